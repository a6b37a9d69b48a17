from spofless.cli import main

raise SystemExit(main())
