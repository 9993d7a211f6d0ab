"""Measure the diagnosis aid at scale: what an agent's incident page asks while they diagnose.

    manage.py benchmark_diagnosis --incidents 100000 --articles 10000 --requests 50

Uses the tenant `bench-<N>` of benchmark_incident_list (seeded once) and adds, once, the
articles (90 % published) and a tenth as many known errors (over a hundred problems), all
indexed for search in one statement. Then, for incidents taken across the tenant, it times the
API (`GET incidents/<INC>/knowledge/`) and the incident page's card, through the whole Django
stack in process, beside a bare view behind the same middleware (the floor), and prints the
ranking function's plan as the schema owner sees it. Reported, never asserted.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone

from incidents.management.commands.benchmark_incident_list import seed_incidents
from incidents.models import Incident
from itsm.accounts.services import api_token_issue
from itsm.catalog.models import Category, Service
from itsm.search.sql import indexing_deferred
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant, TenantCounter
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.models import Article
from problems.choices import KnownErrorStatus, ProblemStatus
from problems.models import KnownError, Problem
from problems.selectors import DIAGNOSIS_KINDS, diagnosis_text

# Words of IT support, the benchmark incidents' own among them, placed among filler words of a
# vocabulary drawn with Zipf's law (as words of real text are): a topic word is in a few to a
# few tens of percent of the articles, as "network" or "password" would be.
VOCABULARY_SIZE = 600
KINDS = list(DIAGNOSIS_KINDS)
TOPICS = [
    "printer",
    "vpn",
    "mail",
    "login",
    "slow",
    "error",
    "crash",
    "network",
    "outlook",
    "password",
    "reset",
    "account",
    "locked",
    "wifi",
    "disk",
    "full",
    "backup",
    "restore",
    "database",
    "timeout",
    "certificate",
    "expired",
    "browser",
    "cache",
    "proxy",
    "firewall",
    "dns",
    "dhcp",
    "laptop",
    "docking",
    "monitor",
    "keyboard",
    "teams",
    "meeting",
    "calendar",
    "license",
    "office",
    "excel",
    "sharepoint",
    "onedrive",
    "sync",
    "permission",
    "access",
    "denied",
    "payroll",
    "export",
    "report",
    "invoice",
    "erp",
    "sap",
    "citrix",
    "session",
    "freeze",
    "update",
    "patch",
    "driver",
    "bluetooth",
    "headset",
    "phone",
    "mobile",
    "mfa",
]


def _floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("__floor__/", _floor), path("", include("itsm.urls"))]


def seed_knowledge(tenant: Tenant, author: Any, articles: int, *, analyze: bool, out: Any) -> None:
    """`articles` articles and a tenth as many known errors in the tenant (made once)."""
    with rls.tenant_scope(tenant.pk):
        if Article.objects.for_tenant(tenant).count() >= articles:
            return
    out.write(f"Seeding {articles} articles and {articles // 10} known errors ...")
    rng = random.Random(articles)  # noqa: S311 - test data, not security
    now = timezone.now()
    vocabulary = [f"term{rank}" for rank in range(VOCABULARY_SIZE - len(TOPICS))]
    for topic in TOPICS:
        vocabulary.insert(rng.randrange(len(vocabulary)), topic)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]

    def phrase(words: int) -> str:
        return " ".join(rng.choices(vocabulary, weights, k=words))

    with indexing_deferred("article", "known_error"), rls.tenant_scope(tenant.pk):
        services = list(Service.objects.for_tenant(tenant))
        categories = list(Category.objects.for_tenant(tenant))
        batch = []
        for number in range(1, articles + 1):
            body = f"When {phrase(6)}, check {phrase(4)} and then {phrase(5)}."
            published = rng.random() < 0.9
            batch.append(
                Article(
                    tenant=tenant,
                    number=number,
                    title=f"How to fix {phrase(3)}",
                    summary=phrase(8),
                    body=body,
                    body_html=f"<p>{body}</p>",
                    status=ArticleStatus.PUBLISHED if published else ArticleStatus.DRAFT,
                    audience=rng.choice(list(ArticleAudience)),
                    service=rng.choice(services),
                    category=rng.choice(categories),
                    author=author,
                    owner=author,
                    published_at=now if published else None,
                )
            )
        Article.objects.bulk_create(batch, batch_size=2000)
        problems = Problem.objects.bulk_create(
            Problem(
                tenant=tenant,
                number=number,
                title=phrase(4),
                impact=2,
                urgency=2,
                priority=3,
                status=ProblemStatus.ROOT_CAUSE_KNOWN,
                root_cause=phrase(10),
                workaround=phrase(10),
            )
            for number in range(1, 101)
        )
        KnownError.objects.bulk_create(
            (
                KnownError(
                    tenant=tenant,
                    number=number,
                    problem=rng.choice(problems),
                    title=phrase(4),
                    symptoms=phrase(12),
                    workaround=phrase(10),
                    root_cause=phrase(10),
                    status=KnownErrorStatus.PUBLISHED,
                    published_at=now,
                )
                for number in range(1, articles // 10 + 1)
            ),
            batch_size=2000,
        )
        for prefix, last in (("KB", articles), ("PRB", 100), ("KE", articles // 10)):
            TenantCounter.objects.update_or_create(
                tenant=tenant, key=prefix, defaults={"last_value": last}
            )
    if analyze and connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would gather them: without them the planner reads
        # the articles by status rather than by key (6 ms instead of 0.1).
        with rls.owner_connection(), connection.cursor() as cursor:
            for table in ("knowledgebase_article", "problems_problem", "problems_knownerror"):
                cursor.execute(f"ANALYZE {table}")


class Command(BaseCommand):
    help = "Benchmark the diagnosis aid (known errors and articles matching an incident)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=100_000)
        parser.add_argument("--articles", type=int, default=10_000)
        parser.add_argument("--requests", type=int, default=50)
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["incidents"], options["requests"]
        tenant, agent = seed_incidents(count, analyze=not options["no_analyze"], out=self.stdout)
        seed_knowledge(
            tenant,
            agent,
            options["articles"],
            analyze=not options["no_analyze"],
            out=self.stdout,
        )
        with rls.tenant_scope(tenant.pk):
            step = max(1, count // 20)
            references = [
                incident.reference
                for incident in Incident.objects.for_tenant(tenant).filter(
                    number__in=range(1, count + 1, step)
                )
            ]
        api = Client(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent).key}")
        page = Client()
        page.force_login(agent)
        slug = tenant.slug
        cases: dict[str, tuple[Client, Any, dict[str, str]]] = {
            "floor: bare view": (page, lambda ref: "/__floor__/", {}),
            "API: incident detail": (api, lambda ref: f"/api/v1/t/{slug}/incidents/{ref}/", {}),
            "API: knowledge": (
                api,
                lambda ref: f"/api/v1/t/{slug}/incidents/{ref}/knowledge/",
                {},
            ),
            "page: knowledge card": (
                page,
                lambda ref: f"/t/{slug}/diagnosis/{ref}/",
                {"HX-Request": "true"},
            ),
        }
        request_started.disconnect(reset_queries)  # keep the log to count queries
        self.stdout.write(
            f"{count} incidents, {options['articles']} articles in {slug}; "
            f"{requests} requests each over {len(references)} incidents"
        )
        self.stdout.write(f"{'case':<24}{'queries':>8}{'median ms':>11}{'p95 ms':>9}{'× floor':>9}")
        floor = 0.0
        with override_settings(ROOT_URLCONF=__name__):
            for name, (client, url, headers) in cases.items():
                reset_queries()
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url(references[0]), headers=headers)
                assert response.status_code == 200, (name, response.status_code)
                query_count = len(queries)  # now: the timing runs below empty the log
                timings = []
                for run in range(requests):
                    started = time.perf_counter()
                    client.get(url(references[run % len(references)]), headers=headers)
                    timings.append((time.perf_counter() - started) * 1000)
                    reset_queries()
                timings.sort()
                median = statistics.median(timings)
                floor = floor or median
                p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                self.stdout.write(
                    f"{name:<24}{query_count:>8}{median:>11.2f}{p95:>9.2f}{median / floor:>9.1f}"
                )
        if connection.vendor == "postgresql" and not options["no_analyze"]:
            self._plan(tenant, references)

    def _plan(self, tenant: Tenant, references: list[str]) -> None:
        """How many published entries each incident's words match (what the ranking costs), and
        the plan of the ranking function's statement for the first, as the owner runs it."""
        with rls.tenant_scope(tenant.pk):
            incidents = list(
                Incident.objects.for_tenant(tenant).filter(
                    number__in=[int(reference[4:]) for reference in references]
                )
            )
        matches = (
            "FROM itsm_search.entry e WHERE e.tenant_id = %(tenant)s AND e.kind = k.kind "
            "AND e.document @@ (SELECT itsm_search.query(%(text)s, false)) "
            "AND e.status = 'published'"
        )
        with rls.owner_connection(), connection.cursor() as cursor:
            counts = []
            for incident in incidents:
                cursor.execute(  # constants only; the values are parameters
                    f"SELECT count(*) FROM unnest(%(kinds)s::text[]) AS k(kind), "  # noqa: S608
                    f"LATERAL (SELECT 1 {matches}) AS m",
                    {"tenant": tenant.pk, "text": diagnosis_text(incident), "kinds": KINDS},
                )
                counts.append(cursor.fetchone()[0])
            self.stdout.write(
                f"Published known errors and articles matching an incident's words: "
                f"median {statistics.median(counts):.0f}, max {max(counts)}"
            )
            incident = incidents[0]
            cursor.execute(  # constants only; the values are parameters
                "EXPLAIN ANALYZE SELECT m.kind, m.object_id, m.rank "  # noqa: S608
                "FROM unnest(%(kinds)s::text[]) AS k(kind) CROSS JOIN LATERAL ("
                "SELECT e.kind, e.object_id, "
                "(ts_rank(e.document, (SELECT itsm_search.query(%(text)s, false)), 1) "
                "* (1 + CASE WHEN e.service_id = %(service)s THEN 0.5 ELSE 0 END "
                "+ CASE WHEN e.category_id = %(category)s THEN 0.25 ELSE 0 END))::real AS rank "
                f"{matches} ORDER BY 3 DESC, e.object_id DESC LIMIT 20) AS m "
                "ORDER BY m.rank DESC, m.object_id DESC LIMIT 20",
                {
                    "text": diagnosis_text(incident),
                    "service": incident.service_id,
                    "category": incident.category_id,
                    "tenant": tenant.pk,
                    "kinds": KINDS,
                },
            )
            self.stdout.write(f"Plan for {incident.reference} ({incident.title!r}):")
            self.stdout.write("\n".join(row[0] for row in cursor.fetchall()))
