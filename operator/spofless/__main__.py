"""`python -m spofless`: the same command as `spofless`."""

from spofless.cli import main

raise SystemExit(main())
