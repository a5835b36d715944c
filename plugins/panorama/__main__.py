from panorama.cli import main

raise SystemExit(main())
