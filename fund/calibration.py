"""Reviewer calibration: remove each reviewer's personal leniency and range from their scores.

Some reviewers give 4s and 5s to everything, others rarely leave 2–3. Each score s given by
reviewer r in a round is standardised against that reviewer's own scores in the round, then mapped
back onto the 1–5 scale with the round's overall mean and spread:

    z = (s − m_r) / sd_r
    calibrated = M + SD × z

- m_r, sd_r: mean and population standard deviation of all of reviewer r's counted scores in the
  round (every proposal and every perspective; recused assignments are left out).
- M, SD: mean and population standard deviation of all counted scores in the round.
- A reviewer who gave the same score throughout (sd_r = 0, in practice below 10⁻⁶) carries no ranking information: z = 0,
  so each of their scores becomes M.

Because the mapping is linear, a calibrated score can fall slightly outside 1–5; it is not clipped,
so that the order between proposals is kept. The calibrated total of a proposal is the weighted
sum of its per-perspective calibrated means, with the same weights as the raw total.
"""


def calibrated_scores_sql() -> str:
    """SQL (portable: DuckDB and PostgreSQL) for the counted scores of round `:r`, one row per score:
    proposal_id, reviewer_id, perspective, score, rubric_version_id, calibrated."""
    return """
        SELECT z.proposal_id, z.reviewer_id, z.perspective, z.score, z.rubric_version_id,
               CASE WHEN z.reviewer_sd > 0.000001
                    THEN z.round_mean + z.round_sd * (z.score - z.reviewer_mean) / z.reviewer_sd
                    ELSE z.round_mean END AS calibrated
        FROM (
            SELECT ra.proposal_id, ra.reviewer_id, s.perspective, s.rubric_version_id,
                   CAST(s.score AS DOUBLE PRECISION) AS score,
                   AVG(CAST(s.score AS DOUBLE PRECISION)) OVER (PARTITION BY ra.reviewer_id) AS reviewer_mean,
                   STDDEV_POP(CAST(s.score AS DOUBLE PRECISION)) OVER (PARTITION BY ra.reviewer_id)
                       AS reviewer_sd,
                   AVG(CAST(s.score AS DOUBLE PRECISION)) OVER () AS round_mean,
                   STDDEV_POP(CAST(s.score AS DOUBLE PRECISION)) OVER () AS round_sd
            FROM review_score s
            JOIN review_assignment ra ON ra.id = s.assignment_id
            WHERE ra.round_id = :r AND NOT ra.recused
        ) z
    """
