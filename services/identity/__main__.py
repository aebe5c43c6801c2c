import sys

from platform_kit.heap import one_malloc_arena
from platform_kit.service import main
from services.identity.service import DEFINITION

# Before any thread starts: the argon2id buffers of sign-ins all come from one arena, which
# services/identity/credentials.py hands back once sign-ins pause (platform_kit/heap.py).
one_malloc_arena()
sys.exit(main(DEFINITION))
