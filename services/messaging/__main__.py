import sys

from platform_kit.service import main
from services.messaging.service import DEFINITION

sys.exit(main(DEFINITION))
