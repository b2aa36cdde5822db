"""What routes receive from the app they run in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from settlement.service import SettlementService


def _service(request: Request) -> SettlementService:
    service: SettlementService = request.app.state.service
    return service


Service = Annotated[SettlementService, Depends(_service)]
