"""ホーム: the state of the fund in ten seconds."""
