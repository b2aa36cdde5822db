"""Who may call what: operator routes need the operator's API key."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from settlement.config import API_KEY_MAX_LENGTH


async def _require_operator(
    request: Request, x_api_key: Annotated[str | None, Header(max_length=API_KEY_MAX_LENGTH)] = None
) -> None:
    expected: str | None = request.app.state.operator_api_key
    # compare_digest takes the same time wherever the strings differ, so the key cannot be
    # guessed byte by byte from response times.
    if (
        expected is None
        or x_api_key is None
        or not hmac.compare_digest(x_api_key.encode(), expected.encode())
    ):
        raise HTTPException(status_code=401, detail="a valid X-API-Key header is required")


Operator = Annotated[None, Depends(_require_operator)]
