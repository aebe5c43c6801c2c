import sys

from platform_kit.service import main
from services.billing.service import DEFINITION

sys.exit(main(DEFINITION))
