"""`settlement serve` as an x402 facilitator, killed with SIGKILL while a settle waits for its
transaction, then restarted: the payload, settled again, pays once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from x402.mechanisms.evm import constants as reasons
from x402.schemas import PaymentRequired, PaymentRequirements, ResourceInfo

from robots.x402_fleet import x402_buyer
from settlement.chain.anvil import free_loopback_port
from settlement.client import SettlementClient
from tests.settlement.faults.test_kill import API_KEY, KillableService
from tests.settlement.x402.test_facilitator import SIGNED_VALIDITY_S

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

PRICE = 3_000


async def test_a_settle_cut_by_sigkill_pays_once_after_the_restart(
    tmp_path: Path, anvil_rpc_url: str
) -> None:
    service = KillableService(tmp_path, anvil_rpc_url, free_loopback_port())
    await asyncio.to_thread(service.start)
    try:
        payer, payee = Account.create(), Account.create().address
        async with SettlementClient(service.url, api_key=API_KEY) as client:
            terms = await client.terms()
            await client.faucet([{"address": payer.address, "token_base_units": 10 * PRICE}])
        requirements = PaymentRequirements(
            scheme="exact",
            network=f"eip155:{terms.chain_id}",
            asset=terms.token,
            amount=str(PRICE),
            pay_to=payee,
            max_timeout_seconds=SIGNED_VALIDITY_S,
            extra={"name": terms.token_domain.name, "version": terms.token_domain.version},
        )
        buyer = x402_buyer(payer, requirements.network)
        payload = await buyer.create_payment_payload(
            PaymentRequired(accepts=[requirements], resource=ResourceInfo(url="http://r/x"))
        )
        body: dict[str, Any] = {
            "x402Version": 2,
            "paymentPayload": payload.model_dump(mode="json", by_alias=True, exclude_none=True),
            "paymentRequirements": requirements.model_dump(
                mode="json", by_alias=True, exclude_none=True
            ),
        }
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
            cut = asyncio.create_task(http.post("/x402/settle", json=body))
            await asyncio.sleep(0.05)
            service.kill()
            with pytest.raises(httpx.HTTPError):
                await cut  # the facilitator died under the request
            await asyncio.to_thread(service.start)
            settled = (await http.post("/x402/settle", json=body)).json()
            again = (await http.post("/x402/settle", json=body)).json()
            verified = (await http.post("/x402/verify", json=body)).json()
            held = (await http.get(f"/v1/balances/{payee}")).json()["balance_base_units"]
    finally:
        await asyncio.to_thread(service.stop)
    assert settled["success"] is True, settled
    assert again["transaction"] == settled["transaction"]
    assert (verified["isValid"], verified["invalidReason"]) == (
        False,
        reasons.ERR_NONCE_ALREADY_USED,
    )
    assert held == PRICE, "paid once, through the kill"
