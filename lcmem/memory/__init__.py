"""Episodic memory: who did what, where and when, across long narratives and conversations.

:class:`EpisodicWorkspace` observes text through an operator (rule-based or LLM), merges the
events into a graph with a reconciler (entity resolution, location facts over validity
intervals) and answers where / who / when / how-many questions, or gives an LLM a compact
:meth:`~EpisodicWorkspace.context_for` view.

Example:
    >>> from lcmem.memory import EpisodicWorkspace
    >>> ws = EpisodicWorkspace()
    >>> _ = ws.observe("On 2 June 2023, Omar Haddad arrived in Porto.")
    >>> ws.ask("Where is Omar now?").text
    'Omar Haddad was last at Porto (since 2023-06-02).'
"""

from __future__ import annotations

from lcmem.memory.events import Actor, Conflict, Event, Fact, ObserveReport, SourceSpan
from lcmem.memory.operator import Extraction, Operator, OperatorContext
from lcmem.memory.operator_rules import RuleOperator
from lcmem.memory.queries import QueryResult, parse_question
from lcmem.memory.workspace import EpisodicWorkspace, NoEventsWarning

__all__ = [
    "Actor",
    "Conflict",
    "EpisodicWorkspace",
    "Event",
    "Extraction",
    "Fact",
    "NoEventsWarning",
    "ObserveReport",
    "Operator",
    "OperatorContext",
    "QueryResult",
    "RuleOperator",
    "SourceSpan",
    "parse_question",
]


def __getattr__(name: str) -> object:
    if name == "LLMOperator":
        from lcmem.memory.operator_llm import LLMOperator

        return LLMOperator
    raise AttributeError(name)
