import sys

from platform_kit.service import main
from services.identity.service import DEFINITION

sys.exit(main(DEFINITION))
