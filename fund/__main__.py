from fund.cli import main

raise SystemExit(main())
