import sys

from platform_kit.service import main
from services.attendance.service import DEFINITION

sys.exit(main(DEFINITION))
