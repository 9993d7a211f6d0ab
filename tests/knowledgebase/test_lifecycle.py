"""The article lifecycle table and its guards, without a database: every state × action."""

import pytest

from knowledgebase.choices import LIFECYCLE, ArticleAction, ArticleStatus, allowed_actions
from knowledgebase.errors import ArticleNotEditableError, InvalidArticleTransitionError
from knowledgebase.lifecycle import check_action, check_editable

S, A = ArticleStatus, ArticleAction

# The expected table, written out independently of choices.LIFECYCLE.
EXPECTED: dict[tuple[ArticleStatus, ArticleAction], ArticleStatus] = {
    (S.DRAFT, A.SUBMIT): S.IN_REVIEW,
    (S.DRAFT, A.RETIRE): S.RETIRED,
    (S.IN_REVIEW, A.REQUEST_CHANGES): S.DRAFT,
    (S.IN_REVIEW, A.PUBLISH): S.PUBLISHED,
    (S.IN_REVIEW, A.RETIRE): S.RETIRED,
    (S.PUBLISHED, A.UNPUBLISH): S.DRAFT,
    (S.PUBLISHED, A.RETIRE): S.RETIRED,
    (S.RETIRED, A.REVISE): S.DRAFT,
}
EVERY_PAIR = [(status, action) for status in ArticleStatus for action in ArticleAction]


@pytest.mark.parametrize(("status", "action"), EVERY_PAIR)
def test_every_state_and_action(status, action):
    if (status, action) in EXPECTED:
        assert check_action(status, action).to_status == EXPECTED[(status, action)]
    else:
        with pytest.raises(InvalidArticleTransitionError) as refused:
            check_action(status, action)
        assert refused.value.code == "invalid_transition"
        assert refused.value.extra["allowed_actions"] == [
            str(name) for (st, name) in EXPECTED if st == status
        ]


def test_the_table_has_exactly_the_expected_edges():
    edges = {
        (status, action): rule.to_status
        for action, rule in LIFECYCLE.items()
        for status in rule.from_statuses
    }
    assert edges == EXPECTED


def test_allowed_actions_follow_table_order():
    assert allowed_actions(S.DRAFT) == [A.SUBMIT, A.RETIRE]
    assert allowed_actions(S.RETIRED) == [A.REVISE]


@pytest.mark.parametrize("status", [S.DRAFT, S.IN_REVIEW, S.PUBLISHED])
def test_text_is_editable_until_retired(status):
    check_editable(status)


def test_a_retired_article_is_not_editable():
    with pytest.raises(ArticleNotEditableError) as refused:
        check_editable(S.RETIRED)
    assert refused.value.extra["allowed_actions"] == ["revise"]
