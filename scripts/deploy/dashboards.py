#!/usr/bin/env python3
"""Generates Omni's Grafana dashboards into charts/omni/files/dashboards/ (the chart ships them as ConfigMaps).

    python3 scripts/deploy/dashboards.py           # write the JSON files
    python3 scripts/deploy/dashboards.py --check   # exit 1 if the committed files differ from the generated ones

One overview (orders by state and channel, availability lag, reservations, errors), one for store operations
(store tasks by state and store, time to ready, curbside waits, uncollected pickups, SLA breaches) and one
dashboard per service.
The metric names are the ones the services export (libs/omni-telemetry/src/metrics.rs, services/*/src) plus the
ones DESIGN.md §8 names that the code does not export yet (see docs/OPERATIONS.md, "Metrics"). Every series
carries service="<name>"; Prometheus adds namespace. scripts/check-deploy.sh type-checks each file against
@grafana/schema and checks every panel's PromQL with promtool.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "charts" / "omni" / "files" / "dashboards"

SERVICES = ["catalog", "allocation", "orders", "fulfillment", "payments", "returns"]
DS = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
# API traffic only: health checks and scrapes are not what users see.
API = 'route!~"/health/.*|/metrics"'


class Layout:
    """Places panels left to right in rows of 24 units and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {"type": "row", "title": title, "id": self._id(), "collapsed": False, "panels": [],
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}}
        )
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, panel: dict, w: int = 12, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def target(expr: str, legend: str = "", ref: str = "A") -> dict:
    t = {"refId": ref, "datasource": DS, "expr": expr, "range": True}
    if legend:
        t["legendFormat"] = legend
    return t


def timeseries(title: str, description: str, targets: list[dict], unit: str = "short", stack: bool = False) -> dict:
    custom: dict = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "min": 0, "custom": custom}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title: str, description: str, expr: str, unit: str = "short") -> dict:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr)],
        "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
    }


def quantiles(metric: str, sel: str, by: str = "") -> list[dict]:
    group = f"{by}, le" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return [
        target(
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{sel}}}[$__rate_interval])))",
            f"p{int(q * 100)}{suffix}",
            ref,
        )
        for q, ref in ((0.5, "A"), (0.99, "B"))
    ]


def dashboard(uid: str, title: str, description: str, layout: Layout, tags: list[str]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["omni", *tags],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "links": [
            {"title": "Omni dashboards", "type": "dashboards", "tags": ["omni"], "asDropdown": True,
             "icon": "external link", "includeVars": True, "keepTime": True, "targetBlank": False,
             "tooltip": "", "url": ""}
        ],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
                 "current": {"text": "default", "value": "default"}, "hide": 0, "refresh": 1},
                {"name": "namespace", "label": "Namespace", "type": "query", "datasource": DS,
                 "query": {"query": "label_values(omni_http_requests_total, namespace)", "refId": "namespace"},
                 "current": {"text": "All", "value": "$__all"},
                 "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "hide": 0},
            ]
        },
        "panels": layout.panels,
    }


def http_panels(l: Layout, service: str) -> None:
    sel = f'{NS}, service="{service}", {API}'
    l.row("HTTP")
    l.add(timeseries("Requests by route", "API requests per second (health checks and scrapes excluded).",
                     [target(f"sum by (route, method) (rate(omni_http_requests_total{{{sel}}}[$__rate_interval]))",
                             "{{method}} {{route}}")], "reqps"), w=8)
    l.add(timeseries("Errors by status", "4xx and 5xx answers per second (0 when there are none).",
                     [target(f'sum by (status, route) (rate(omni_http_requests_total{{{sel}, status=~"[45].."}}[$__rate_interval])) or vector(0)',
                             "{{status}} {{route}}")], "reqps"), w=8)
    l.add(timeseries("Latency by route (p99)", "99th percentile of request duration.",
                     [target(f"histogram_quantile(0.99, sum by (route, le) (rate(omni_http_request_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
                             "{{route}}")], "s"), w=8)


# What each service does on Kafka besides its outbox: catalog only publishes. A panel for something a service never
# does would only ever show "no data".
CONSUMES = {"allocation", "orders", "fulfillment", "payments", "returns"}
PRODUCES = {"catalog", "allocation", "orders", "fulfillment", "payments", "returns"}


def kafka_panels(l: Layout, service: str) -> None:
    sel = f'{NS}, service="{service}"'
    l.row("Kafka and outbox")
    if service in CONSUMES:
        l.add(timeseries("Consumed by topic and outcome", "ok, duplicate (inbox), retried, dead_lettered.",
                         [target(f"sum by (topic, outcome) (rate(omni_kafka_messages_consumed_total{{{sel}}}[$__rate_interval]))",
                                 "{{topic}} {{outcome}}")], "ops"), w=12)
    if service in PRODUCES:
        l.add(timeseries("Produced by topic", "Messages the broker acknowledged.",
                         [target(f"sum by (topic) (rate(omni_kafka_messages_produced_total{{{sel}}}[$__rate_interval]))",
                                 "{{topic}}")], "ops"), w=12)
    if service in CONSUMES:
        l.add(timeseries("Consumer lag", "Messages behind the end of each topic, per consumer (all partitions).",
                         [target(f"sum by (consumer, topic) (omni_kafka_consumer_lag_messages{{{sel}}})",
                                 "{{consumer}} {{topic}}")]), w=12)
    if service in PRODUCES:
        l.add(timeseries("Outbox depth", "Events committed but not yet acknowledged by the broker.",
                         [target(f"max by (relay) (omni_outbox_depth{{{sel}}})", "{{relay}}")]), w=12)


def orders_panels(l: Layout, w: int = 12) -> None:
    sel = f'{NS}, service="orders"'
    l.add(timeseries("Orders by state", "Orders entering each state per second.",
                     [target(f"sum by (state) (rate(omni_orders_total{{{sel}}}[$__rate_interval]))", "{{state}}")],
                     "ops", stack=True), w=w)
    l.add(timeseries("Orders accepted by channel", "New orders per second by channel.",
                     [target(f'sum by (channel) (rate(omni_orders_total{{{sel}, state="accepted"}}[$__rate_interval]))',
                             "{{channel}}")], "ops", stack=True), w=w)


def allocation_panels(l: Layout, w: int = 8) -> None:
    sel = f'{NS}, service="allocation"'
    l.add(timeseries("Reservations by outcome", "Holds placed (held), refused for want of stock (rejected) or failed.",
                     [target(f"sum by (outcome) (rate(omni_reservation_duration_seconds_count{{{sel}}}[$__rate_interval]))",
                             "{{outcome}}")], "ops", stack=True), w=w)
    l.add(timeseries("Reservation latency", "Redis script plus the ledger insert; SLO alert at p99 > 250 ms.",
                     quantiles("omni_reservation_duration_seconds", sel), "s"), w=w)
    l.add(stat("Oversold units", "Units held or committed beyond on-hand, now. Anything above 0 for 2 minutes pages.",
               f"max(omni_oversold_units{{{sel}}})"), w=w)


def returns_panels(l: Layout, w: int = 6) -> None:
    sel = f'{NS}, service="returns"'
    l.add(timeseries("Returns by outcome", "Returns opened, declined (by the policy or what the order can still return), "
                     "cancelled, expired (their items never came) and settled (refunded), per hour.",
                     [target(f"sum by (outcome) (increase(omni_returns_total{{{sel}}}[1h]))", "{{outcome}}")]), w=w)
    l.add(timeseries("Returned units by reason and store", "Units graded per hour at each store (or returns desk), by "
                     "the reason the customer gave and what became of them.",
                     [target(f"sum by (reason, location) (increase(omni_returned_units_total{{{sel}}}[1h]))",
                             "{{reason}} at {{location}}")]), w=w)
    l.add(timeseries("Refunded per hour", "Money refunded for returned units to the original tenders, in major units.",
                     [target(f"sum by (currency) (increase(omni_return_refunds_minor_total{{{sel}}}[1h])) / 100",
                             "{{currency}}")]), w=w)
    l.add(timeseries("Restock → available", "From a returned unit graded for restock at a store until it counts in that "
                     "store's ATP (measured by allocation).",
                     quantiles("omni_return_restock_available_seconds", f'{NS}, service="allocation"'), "s"), w=w)


def lag_panels(l: Layout, w: int = 12) -> None:
    sel = f'{NS}, service="fulfillment"'
    l.add(timeseries("Availability lag", "From a stock change in allocation to routing seeing it; SLO alert at p99 > 1 s.",
                     quantiles("omni_availability_lag_seconds", sel), "s"), w=w)


def overview() -> dict:
    l = Layout()
    l.row("Orders")
    orders_panels(l, w=8)
    l.add(stat("Orders accepted", "Orders accepted in the selected time range.",
               f'sum(increase(omni_orders_total{{{NS}, service="orders", state="accepted"}}[$__range]))'), w=4)
    l.add(stat("Orders failed", "Orders that failed in the selected time range.",
               f'sum(increase(omni_orders_total{{{NS}, service="orders", state="failed"}}[$__range])) or vector(0)'), w=4)
    l.row("Inventory")
    lag_panels(l, w=6)
    allocation_panels(l, w=6)
    l.row("Errors")
    l.add(timeseries("5xx ratio by service", "Share of API requests answered with a server error; SLO alert above 1 %.",
                     [target(f'(sum by (service) (rate(omni_http_requests_total{{{NS}, {API}, status=~"5.."}}[$__rate_interval])) '
                             f'or 0 * sum by (service) (rate(omni_http_requests_total{{{NS}, {API}}}[$__rate_interval]))) '
                             f'/ sum by (service) (rate(omni_http_requests_total{{{NS}, {API}}}[$__rate_interval]))',
                             "{{service}}")], "percentunit"), w=8)
    l.add(timeseries("Dead-lettered messages", "Messages no handler could take, sent to the DLQ with the reason.",
                     [target(f'sum by (service, topic) (rate(omni_kafka_messages_consumed_total{{{NS}, outcome="dead_lettered"}}[$__rate_interval])) or vector(0)',
                             "{{service}} {{topic}}")], "ops"), w=8)
    l.add(timeseries("Consumer lag and outbox depth", "Messages behind, per service; events not yet published.",
                     [target(f"sum by (service) (omni_kafka_consumer_lag_messages{{{NS}}})", "lag {{service}}", "A"),
                      target(f"sum by (service) (omni_outbox_depth{{{NS}}})", "outbox {{service}}", "B")]), w=8)
    return dashboard("omni-overview", "Omni / Overview",
                     "Orders by state and channel, availability lag, reservations and errors across the mesh.",
                     l, ["overview"])


def store_panels(l: Layout) -> None:
    sel = f'{NS}, service="fulfillment"'
    l.row("Store tasks")
    l.add(timeseries("Open tasks by state", "Store tasks with work left, by state, all stores.",
                     [target(f"sum by (state) (omni_store_tasks_open{{{sel}}})", "{{state}}")], stack=True), w=12)
    l.add(timeseries("Open tasks by store", "Store tasks with work left, by store.",
                     [target(f"sum by (location) (omni_store_tasks_open{{{sel}}})", "{{location}}")], stack=True), w=12)
    l.add(timeseries("Waiting to be accepted", "Tasks each store has not accepted yet (each lapses to another node at its accept-by).",
                     [target(f'sum by (location) (omni_store_tasks_open{{{sel}, state="created"}})', "{{location}}")]), w=8)
    l.add(timeseries("Actions", "Associates' actions, customers' arrivals and timer firings per second.",
                     [target(f"sum by (action) (rate(omni_store_task_changes_total{{{sel}}}[$__rate_interval]))",
                             "{{action}}")], "ops", stack=True), w=16)
    l.row("Customers")
    l.add(timeseries("Time to ready", "From release to ready for pickup (pickup, curbside) or shipped (ship).",
                     quantiles("omni_store_task_time_to_ready_seconds", sel, by="method"), "s"), w=8)
    l.add(timeseries("Curbside wait", "From a curbside customer's arrival to the hand-over at the car; breaches past the SLA are counted beside.",
                     quantiles("omni_curbside_wait_seconds", sel), "s"), w=8)
    l.add(timeseries("SLA breaches", "Promises missed per hour, by store and promise (ready_by, curbside_handover).",
                     [target(f"sum by (location, breach) (increase(omni_store_task_sla_breaches_total{{{sel}}}[1h])) or vector(0)",
                             "{{location}} {{breach}}")]), w=8)
    l.add(timeseries("Uncollected pickups", "Pickups per day whose window lapsed: order cancelled, stock back on sale at the store.",
                     [target(f"sum by (location) (increase(omni_pickups_uncollected_total{{{sel}}}[1d])) or vector(0)",
                             "{{location}}")]), w=12)
    l.add(stat("Uncollected in range", "Pickups not collected within their window in the selected time range.",
               f"sum(increase(omni_pickups_uncollected_total{{{sel}}}[$__range])) or vector(0)"), w=12)


def store_operations() -> dict:
    l = Layout()
    store_panels(l)
    return dashboard("omni-store-operations", "Omni / Store operations",
                     "Store tasks (ship from store, pickup, curbside): queues by store and state, time to ready, "
                     "curbside waits, SLA breaches and uncollected pickups.",
                     l, ["stores", "fulfillment"])


def service_dashboard(service: str) -> dict:
    l = Layout()
    if service == "orders":
        l.row("Orders")
        orders_panels(l)
    elif service == "allocation":
        l.row("Reservations")
        allocation_panels(l)
    elif service == "fulfillment":
        l.row("Routing")
        lag_panels(l, w=24)
    elif service == "returns":
        l.row("Returns")
        returns_panels(l)
    http_panels(l, service)
    kafka_panels(l, service)
    return dashboard(f"omni-{service}", f"Omni / {service.capitalize()}",
                     f"The {service} service: its API, its Kafka consumers and producer, its outbox.", l, [service])


def generate() -> dict[str, str]:
    boards = {"overview": overview(), "store-operations": store_operations(),
              **{s: service_dashboard(s) for s in SERVICES}}
    return {f"omni-{name}.json": json.dumps(board, indent=2) + "\n" for name, board in boards.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args()
    files = generate()
    if args.check:
        stale = [n for n, text in files.items() if not (OUT / n).is_file() or (OUT / n).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"stale: charts/omni/files/dashboards/{name} (run python3 scripts/deploy/dashboards.py)")
        for name in extra:
            print(f"not generated: charts/omni/files/dashboards/{name}")
        if stale or extra:
            return 1
        print(f"{len(files)} dashboards match the generator")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
        print(f"wrote charts/omni/files/dashboards/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
