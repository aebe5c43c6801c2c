import sys

from platform_kit.service import main
from services.notify.service import DEFINITION

sys.exit(main(DEFINITION))
