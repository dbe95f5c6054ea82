import sys

from imgkit.cli import main

sys.exit(main())
