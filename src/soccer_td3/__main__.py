import sys

from soccer_td3.cli import main

sys.exit(main())
