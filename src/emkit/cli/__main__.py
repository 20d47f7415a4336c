import sys

from emkit.cli import main

sys.exit(main())
