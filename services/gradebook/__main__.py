import sys

from platform_kit.service import main
from services.gradebook.service import DEFINITION

sys.exit(main(DEFINITION))
