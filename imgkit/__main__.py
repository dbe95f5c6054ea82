import sys

from imgkit.shells.cli import main

sys.exit(main())
