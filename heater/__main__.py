from heater.cli.main import main

raise SystemExit(main())
