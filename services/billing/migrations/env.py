from platform_kit.migrations import run_alembic_env
from services.billing.orm import Base

run_alembic_env(Base.metadata)
