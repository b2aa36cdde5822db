"""What routes receive from the app they run in.

Every dependency in the API is ``async def``: FastAPI runs a plain ``def`` dependency in a worker
thread, a thread hop per request that cost more than the lookup it wraps.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from settlement.service import SettlementService


async def _service(request: Request) -> SettlementService:
    service: SettlementService = request.app.state.service
    return service


Service = Annotated[SettlementService, Depends(_service)]
