import sys

from verifiers.cli import main

sys.exit(main())
