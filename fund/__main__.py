from fund.ops.cli import main

raise SystemExit(main())
