"""The fleet economy, one vectorised step at a time.

Participants are numbered in four blocks: solar farms, robots, compute providers, consumers.
Each step (one minute by default):

1. farms harvest sunlight into their batteries (clouds from the model's own generator);
2. robots whose battery fell below the refill share buy energy from their regular farm, as much
   as fits, the farm can deliver and they can pay for;
3. robots with energy, an unworn tool and room in stock produce goods (parts makers make parts),
   paying their compute provider for the inference calls the goods needed, in bundles;
4. worn robots buy a part from a parts maker that has one;
5. consumers buy baskets of goods from robots that have them.

Every purchase is a payment in base units, recorded in the payment stream; a payer never pays
more than it holds, because every purchase is capped by the payer's balance first. All state is
numpy arrays, so a step costs about the same for ten robots as for a few thousand; one seeded
generator drives everything, so a seed gives the same run every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from robots.energy import STC_IRRADIANCE_W_PER_M2 as STC
from robots.energy import Batteries, Clouds, FloatArray, clear_sky_irradiance_w_per_m2
from robots.scenario import Scenario
from robots.stream import PURPOSES, IntArray, PaymentStream
from settlement.domain.payments import Purpose

# A robot stops producing when its stock holds this many goods (every queue is bounded).
MAX_STOCK = 1_000
WH_PER_KWH = 1_000
PURPOSE_INDEX = {purpose: index for index, purpose in enumerate(PURPOSES)}


@dataclass
class StepReport:
    """What one step did, for the run's reporters."""

    harvested_wh: float
    stored_wh: float
    spent_wh: float
    goods_made: int
    goods_sold: int
    payments: int
    value_base_units: int
    robot_wealth_gini: float


@dataclass
class _Payments:
    """The payments of one step, column by column, appended as each kind is decided."""

    payers: list[IntArray] = field(default_factory=list)
    payees: list[IntArray] = field(default_factory=list)
    amounts: list[IntArray] = field(default_factory=list)
    purposes: list[IntArray] = field(default_factory=list)

    def add(self, payers: IntArray, payees: IntArray, amounts: IntArray, purpose: Purpose) -> None:
        paying = amounts > 0
        self.payers.append(payers[paying])
        self.payees.append(payees[paying])
        self.amounts.append(amounts[paying])
        self.purposes.append(np.full(int(paying.sum()), PURPOSE_INDEX[purpose], dtype=np.int64))


def gini(values: FloatArray | IntArray) -> float:
    """0 when everyone holds the same, towards 1 when one holds everything."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    total = ordered.sum()
    if total <= 0:
        return 0.0
    ranks = np.arange(1, len(ordered) + 1)
    return float(
        (2 * (ranks * ordered).sum()) / (len(ordered) * total) - (len(ordered) + 1) / len(ordered)
    )


class FleetModel:
    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        s = scenario
        # Participant numbers: farms, then robots, compute providers, consumers.
        self.first_robot = s.farms
        self.first_provider = s.farms + s.robots
        self.first_consumer = self.first_provider + s.compute_providers
        self.balances = np.zeros(s.participants, dtype=np.int64)
        self.balances[self.first_robot : self.first_provider] = s.robot_funding
        self.balances[self.first_consumer :] = s.consumer_funding
        self.farm_batteries = Batteries(
            np.full(s.farms, s.farm_battery_wh),
            np.zeros(s.farms),
            s.charge_efficiency,
            s.discharge_efficiency,
        )
        self.robot_batteries = Batteries(
            np.full(s.robots, s.robot_battery_wh),
            np.full(s.robots, s.robot_battery_wh),
            s.charge_efficiency,
            s.discharge_efficiency,
        )
        self.stored_at_start_wh = self.stored_wh()
        self.clouds = Clouds.start(
            self.rng, s.farms, s.cloud_mean_clearness, s.cloud_persistence, s.cloud_volatility
        )
        self.makes_parts = self.rng.random(s.robots) < s.parts_maker_share
        self.farm_of = self.rng.integers(0, s.farms, size=s.robots)
        self.provider_of = self.rng.integers(0, s.compute_providers, size=s.robots)
        self.stock = np.zeros(s.robots, dtype=np.int64)
        self.progress = np.zeros(s.robots)
        self.wear = np.zeros(s.robots)
        self.unpaid_calls = np.zeros(s.robots, dtype=np.int64)
        self.step_index = 0
        self.spent_wh = 0.0
        self.reports: list[StepReport] = []
        self._stream: list[tuple[int, _Payments]] = []

    # The step --------------------------------------------------------------------------------

    def step(self) -> StepReport:
        payments = _Payments()
        harvested = self._harvest()
        self._buy_energy(payments)
        made, spent = self._produce(payments)
        self._buy_parts(payments)
        sold = self._sell(payments)
        self._stream.append((self.step_index, payments))
        self.step_index += 1
        self.spent_wh += spent
        amounts = np.concatenate(payments.amounts) if payments.amounts else np.zeros(0, np.int64)
        report = StepReport(
            harvested_wh=harvested,
            stored_wh=self.stored_wh(),
            spent_wh=spent,
            goods_made=made,
            goods_sold=sold,
            payments=len(amounts),
            value_base_units=int(amounts.sum()),
            robot_wealth_gini=gini(self.balances[self.first_robot : self.first_provider]),
        )
        self.reports.append(report)
        return report

    def run(self) -> list[StepReport]:
        for _ in range(self.scenario.steps - self.step_index):
            self.step()
        return self.reports

    def _harvest(self) -> float:
        s = self.scenario
        hour = (s.start_hour + self.step_index * s.step_hours) % 24
        irradiance = clear_sky_irradiance_w_per_m2(s.latitude_deg, s.day_of_year, hour)
        clearness = self.clouds.step(self.rng)
        harvested_wh = s.farm_panel_peak_w * (irradiance / STC) * clearness * s.step_hours
        self.farm_batteries.harvest(harvested_wh)
        return float(harvested_wh.sum())

    def _buy_energy(self, payments: _Payments) -> None:
        s, robots = self.scenario, self.robot_batteries
        low = robots.stored_wh < s.refill_below_share * robots.capacity_wh
        wanted_wh = np.where(
            low, (robots.capacity_wh - robots.stored_wh) / s.charge_efficiency, 0.0
        )
        price_per_wh = s.energy_price_per_kwh / WH_PER_KWH
        affordable_wh = self.balances[self.first_robot : self.first_provider] / price_per_wh
        wanted_wh = np.minimum(wanted_wh, affordable_wh)
        # A farm shares what it can deliver among its buyers in proportion to their wants.
        demand_wh = np.bincount(self.farm_of, weights=wanted_wh, minlength=s.farms)
        deliverable_wh = self.farm_batteries.deliverable_wh()
        share = np.divide(deliverable_wh, demand_wh, out=np.ones(s.farms), where=demand_wh > 0)
        bought_wh = wanted_wh * np.minimum(share, 1.0)[self.farm_of]
        amounts = np.floor(bought_wh * price_per_wh).astype(np.int64)
        bought_wh = np.where(amounts > 0, bought_wh, 0.0)  # nothing changes hands unpaid
        # Each farm's buyers take what its share allowed, so the farm delivers it all (to float
        # rounding, which the energy account shows).
        sold_wh = np.bincount(self.farm_of, weights=bought_wh, minlength=s.farms)
        self.farm_batteries.discharge(sold_wh.astype(np.float64))
        robots.charge(bought_wh)
        robot_ids = np.arange(s.robots) + self.first_robot
        self._pay(payments, robot_ids, self.farm_of, amounts, Purpose.ENERGY)

    def _produce(self, payments: _Payments) -> tuple[int, float]:
        s, robots = self.scenario, self.robot_batteries
        step_wh = s.robot_power_w * s.step_hours
        ready = (robots.deliverable_wh() >= step_wh) & (self.wear < 1.0) & (self.stock < MAX_STOCK)
        progress = self.progress + np.where(ready, s.goods_per_hour * s.step_hours, 0.0)
        goods = np.floor(progress).astype(np.int64)
        calls = self.unpaid_calls + self.rng.poisson(goods * s.inference_calls_per_good)
        bundles = calls // s.inference_calls_per_payment
        price = bundles * s.inference_calls_per_payment * s.inference_price_per_call
        robot_balances = self.balances[self.first_robot : self.first_provider]
        # A robot that cannot pay for the inference its goods need makes nothing this step.
        ready &= price <= robot_balances
        goods = np.where(ready, goods, 0)
        price = np.where(ready, price, 0)
        self.unpaid_calls = np.where(
            ready, calls - bundles * s.inference_calls_per_payment, self.unpaid_calls
        )
        self.progress = np.where(ready, progress - goods, self.progress)
        spent_wh = robots.discharge(np.where(ready, step_wh, 0.0))
        self.stock += goods
        self.wear += goods * s.wear_per_good
        robot_ids = np.arange(s.robots) + self.first_robot
        provider_ids = self.provider_of + self.first_provider
        self._pay(payments, robot_ids, provider_ids, price, Purpose.COMPUTE)
        return int(goods.sum()), float(spent_wh.sum())

    def _buy_parts(self, payments: _Payments) -> None:
        s = self.scenario
        worn = np.flatnonzero((self.wear >= 1.0) & ~self.makes_parts)
        makers = np.flatnonzero(self.makes_parts & (self.stock > 0))
        if len(worn) == 0 or len(makers) == 0:
            return
        robot_balances = self.balances[self.first_robot : self.first_provider]
        buyers = worn[robot_balances[worn] >= s.part_price]
        sellers = makers[self.rng.integers(0, len(makers), size=len(buyers))]
        # Each maker sells at most what it has in stock this step: the first buyers in order.
        accepted = _within_stock(sellers, self.stock)
        buyers, sellers = buyers[accepted], sellers[accepted]
        np.subtract.at(self.stock, sellers, 1)
        self.wear[buyers] -= 1.0
        amounts = np.full(len(buyers), s.part_price, dtype=np.int64)
        self._pay(
            payments, buyers + self.first_robot, sellers + self.first_robot, amounts, Purpose.PARTS
        )

    def _sell(self, payments: _Payments) -> int:
        s = self.scenario
        counts = self.rng.poisson(
            s.purchases_per_consumer_per_hour * s.step_hours, size=s.consumers
        )
        consumers = np.repeat(np.arange(s.consumers), counts)
        sellers_pool = np.flatnonzero(~self.makes_parts)
        if len(consumers) == 0 or len(sellers_pool) == 0:
            return 0
        sellers = sellers_pool[self.rng.integers(0, len(sellers_pool), size=len(consumers))]
        basket = np.minimum(self.stock[sellers], s.goods_per_purchase)
        consumer_ids = consumers + self.first_consumer
        price = basket * s.good_price
        # Purchases in order; a consumer stops when its money runs out, a seller when its stock
        # does (both checked against what earlier purchases of this step left).
        spent_before = _running_total_before(consumer_ids, price)
        price = np.where(spent_before + price <= self.balances[consumer_ids], price, 0)
        basket = np.where(price > 0, basket, 0)
        basket = np.minimum(
            basket, np.maximum(self.stock[sellers] - _running_total_before(sellers, basket), 0)
        )
        price = basket * s.good_price
        np.subtract.at(self.stock, sellers, basket)
        self._pay(payments, consumer_ids, sellers + self.first_robot, price, Purpose.GOODS)
        return int(basket.sum())

    def _pay(
        self,
        payments: _Payments,
        payers: IntArray,
        payees: IntArray,
        amounts: IntArray,
        purpose: Purpose,
    ) -> None:
        """Move money, never beyond what each payer holds, and record the payments."""
        np.subtract.at(self.balances, payers, amounts)
        np.add.at(self.balances, payees, amounts)
        assert self.balances.min() >= 0, "a payer paid more than it held"
        payments.add(payers, payees, amounts, purpose)

    # Reading the run -------------------------------------------------------------------------

    def stored_wh(self) -> float:
        return float(self.farm_batteries.stored_wh.sum() + self.robot_batteries.stored_wh.sum())

    def unaccounted_energy_wh(self) -> float:
        """Harvest less everything it became (losses, spills, storage, production): zero in a
        sound run, to floating-point rounding."""
        farm, robot = self.farm_batteries.account, self.robot_batteries.account
        became = (
            farm.charging_losses
            + farm.spilled
            + farm.discharging_losses
            + robot.charging_losses
            + robot.spilled
            + robot.discharging_losses
            + robot.delivered
            + (self.stored_wh() - self.stored_at_start_wh)
        )
        return farm.harvested - became

    def stream(self) -> PaymentStream:
        steps: list[IntArray] = []
        payers: list[IntArray] = []
        payees: list[IntArray] = []
        amounts: list[IntArray] = []
        purposes: list[IntArray] = []
        for step, payments in self._stream:
            for column, parts in zip(
                (payers, payees, amounts, purposes),
                (payments.payers, payments.payees, payments.amounts, payments.purposes),
                strict=True,
            ):
                column.extend(parts)
            steps.append(np.full(sum(len(p) for p in payments.amounts), step, dtype=np.int64))
        return PaymentStream(
            seed=self.seed,
            participant_count=self.scenario.participants,
            steps=_joined(steps),
            payers=_joined(payers),
            payees=_joined(payees),
            amounts_base_units=_joined(amounts),
            purposes=_joined(purposes),
        )


def _joined(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _running_total_before(groups: IntArray, values: IntArray) -> IntArray:
    """For each item, the sum of ``values`` of the items before it in the same group."""
    order = np.argsort(groups, kind="stable")
    sorted_groups, sorted_values = groups[order], values[order]
    cumulative = np.cumsum(sorted_values)
    group_start = np.r_[True, sorted_groups[1:] != sorted_groups[:-1]]
    start_totals = np.where(group_start, cumulative - sorted_values, 0)
    before_sorted = cumulative - sorted_values - np.maximum.accumulate(start_totals)
    before = np.empty_like(before_sorted)
    before[order] = before_sorted
    return before


def _within_stock(sellers: IntArray, stock: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each sale (in order) finds the seller still holding a unit."""
    taken_before = _running_total_before(sellers, np.ones(len(sellers), dtype=np.int64))
    return taken_before < stock[sellers]
