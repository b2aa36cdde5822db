"""The fleet economy: deterministic per seed, energy accounted for, no money from nowhere."""

from __future__ import annotations

import numpy as np
import pytest

from robots.model import FleetModel
from robots.scenario import Scenario, ScenarioError, load_scenario, preset_names
from robots.stream import PURPOSES, PaymentStream
from settlement.domain.payments import Purpose


def demo(**overrides: str) -> Scenario:
    return load_scenario("demo", overrides)


def run(scenario: Scenario, seed: int = 7) -> FleetModel:
    model = FleetModel(scenario, seed)
    model.run()
    return model


def columns(stream: PaymentStream) -> list[list[int]]:
    return [
        column.tolist()
        for column in (
            stream.steps,
            stream.payers,
            stream.payees,
            stream.amounts_base_units,
            stream.purposes,
        )
    ]


def test_the_same_seed_gives_the_same_trajectory_and_payment_stream() -> None:
    first, second, other = run(demo()), run(demo()), run(demo(), seed=8)

    assert columns(first.stream()) == columns(second.stream())
    assert first.reports == second.reports
    assert columns(first.stream()) != columns(other.stream())


def test_energy_is_neither_created_nor_lost_unaccounted() -> None:
    for scenario in (demo(), demo(cloud_volatility="0.2", refill_below_share="0.9")):
        model = run(scenario)
        harvested = model.farm_batteries.account.harvested

        assert harvested > 0
        assert abs(model.unaccounted_energy_wh()) <= 1e-9 * harvested


def test_every_purchase_is_a_payment_and_every_payment_has_goods_or_energy_behind_it() -> None:
    model = run(demo())
    stream = model.stream()
    scenario = model.scenario
    by_purpose = {p: stream.purposes == index for index, p in enumerate(PURPOSES)}
    goods_value = int(stream.amounts_base_units[by_purpose[Purpose.GOODS]].sum())
    energy_value = int(stream.amounts_base_units[by_purpose[Purpose.ENERGY]].sum())
    delivered_wh = model.farm_batteries.account.delivered

    assert goods_value == sum(r.goods_sold for r in model.reports) * scenario.good_price
    assert sum(r.goods_sold for r in model.reports) <= sum(r.goods_made for r in model.reports)
    # Energy is paid by the Wh delivered, rounded down per purchase.
    price_per_wh = scenario.energy_price_per_kwh / 1000
    assert 0 <= delivered_wh * price_per_wh - energy_value <= int(by_purpose[Purpose.ENERGY].sum())
    assert energy_value > 0


def test_a_payer_never_pays_more_than_it_holds() -> None:
    scenario = demo(robot_funding="20000", consumer_funding="9000")
    model = run(scenario)
    stream = model.stream()
    balances = np.zeros(scenario.participants, dtype=np.int64)
    balances[model.first_robot : model.first_provider] = scenario.robot_funding
    balances[model.first_consumer :] = scenario.consumer_funding

    for step in range(scenario.steps):
        in_step = stream.steps == step
        np.subtract.at(balances, stream.payers[in_step], stream.amounts_base_units[in_step])
        np.add.at(balances, stream.payees[in_step], stream.amounts_base_units[in_step])
        assert balances.min() >= 0
    assert (balances == model.balances).all()


def test_reporters_collect_every_step() -> None:
    model = run(demo())

    assert len(model.reports) == model.scenario.steps
    assert sum(r.payments for r in model.reports) == len(model.stream())
    assert all(0 <= r.robot_wealth_gini < 1 for r in model.reports)


def test_a_stream_survives_a_round_trip_through_its_file(tmp_path) -> None:
    stream = run(demo()).stream()
    stream.save(tmp_path / "stream.npz")

    assert columns(PaymentStream.load(tmp_path / "stream.npz")) == columns(stream)


def test_presets_load_and_overrides_are_checked() -> None:
    assert {"demo", "city", "billionth"} <= set(preset_names())
    assert load_scenario("billionth").robots == 346_936
    assert demo(robots="5").robots == 5
    with pytest.raises(ScenarioError, match="unknown scenario value 'robts'"):
        demo(robts="5")
    with pytest.raises(ScenarioError, match="robots must be between 1"):
        demo(robots="-3")
    with pytest.raises(ScenarioError, match="robots must be an integer, got 'many'"):
        demo(robots="many")
    with pytest.raises(ScenarioError, match="unknown scenario 'moon'"):
        load_scenario("moon")
