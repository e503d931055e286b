from heater.cli import main

raise SystemExit(main())
