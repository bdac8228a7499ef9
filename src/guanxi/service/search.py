"""Knowledge-base search for English and Chinese on SQLite and PostgreSQL alike.

Text is cut into terms in Python: English words are lower-cased, stop words dropped and light
suffixes stripped ("returns" → "return"); runs of Chinese characters, which have no spaces
between words, become overlapping character bigrams plus single characters (n-gram matching:
"退货" in a query finds "如何申请退货" without a dictionary). Terms are stored per article in
``KBTerm`` and ranked with BM25, so the same code and the same scores run on either database.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Avg, Count

from guanxi.service.models import KBArticle, KBTerm

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "we",
        "us",
        "not",
        "no",
        "yes",
        "did",
        "get",
        "got",
    }
)
# Chinese single characters that carry no meaning on their own in a query.
CJK_STOP = frozenset("的了是我你他她它们吗呢吧啊么在和与就也都还要会能可以个这那有")
TITLE_WEIGHT = 3.0
UNIGRAM_WEIGHT = 0.3
K1, B = 1.2, 0.75


def _stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl, min_len in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ing", "", 6),
        ("ed", "", 5),
        ("es", "", 5),
        ("s", "", 4),
    ):
        if word.endswith(suffix) and len(word) >= min_len:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            if suffix == "es" and not word.endswith(("shes", "ches", "xes", "sses", "zes")):
                continue
            return word[: -len(suffix)] + repl
    return word


def tokenize(text: str) -> Counter[str]:
    """Weighted terms of ``text``: English stems and Chinese bigrams weigh 1, Chinese single
    characters less (they match too much on their own)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    terms: Counter[str] = Counter()
    for run in _TOKEN.findall(text):
        if _IS_CJK.match(run):
            for i, char in enumerate(run):
                if char not in CJK_STOP:
                    terms[char] += UNIGRAM_WEIGHT
                if i + 1 < len(run):
                    terms[run[i : i + 2]] += 1.0
        elif run not in STOP_WORDS:
            terms[_stem(run)[:64]] += 1.0
    return terms


def article_terms(title: str, body: str) -> Counter[str]:
    terms = Counter()
    for term, weight in tokenize(title).items():
        terms[term] += weight * TITLE_WEIGHT
    terms.update(tokenize(body))
    return terms


@transaction.atomic
def index_article(article: KBArticle) -> None:
    """(Re)build the article's index rows; called by every service that saves an article."""
    terms = article_terms(article.title, article.body)
    KBTerm.objects.filter(article=article).delete()
    KBTerm.objects.bulk_create(
        [KBTerm(article=article, term=t, weight=w) for t, w in terms.items()], batch_size=500
    )
    length = int(round(sum(terms.values())))
    if article.term_count != length:
        article.term_count = length
        KBArticle.objects.filter(pk=article.pk).update(term_count=length)


@dataclass(frozen=True)
class Hit:
    article: KBArticle
    score: float


def search(
    query: str,
    *,
    language: str | None = None,
    published_only: bool = True,
    limit: int = 10,
    exclude: tuple[int, ...] = (),
) -> list[Hit]:
    """Articles best matching ``query``, best first, each with its BM25 score (> 0)."""
    q_terms = tokenize(query)
    if not q_terms:
        return []
    articles = KBArticle.objects.all()
    if published_only:
        articles = articles.filter(published=True)
    if language:
        articles = articles.filter(language=language)
    total = articles.count()
    if not total:
        return []
    avg_len = articles.aggregate(avg=Avg("term_count"))["avg"] or 1.0
    rows = KBTerm.objects.filter(term__in=list(q_terms), article__in=articles)
    if exclude:
        rows = rows.exclude(article_id__in=exclude)
    df = dict(rows.values_list("term").annotate(n=Count("article_id", distinct=True)))
    scores: dict[int, float] = {}
    lengths = dict(articles.values_list("id", "term_count"))
    for article_id, term, weight in rows.values_list("article_id", "term", "weight"):
        idf = math.log(1 + (total - df[term] + 0.5) / (df[term] + 0.5))
        length = lengths.get(article_id) or avg_len
        tf = weight * (K1 + 1) / (weight + K1 * (1 - B + B * length / avg_len))
        scores[article_id] = scores.get(article_id, 0.0) + idf * tf * q_terms[term]
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    loaded = KBArticle.objects.select_related("category").in_bulk([pk for pk, _s in best])
    return [Hit(loaded[pk], round(score, 4)) for pk, score in best if pk in loaded]
