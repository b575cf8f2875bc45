"""The judge moved to :mod:`cuekit.answers`; this name stays for callers that import it
from here (``cuekit.evaluate.verl_reward`` on main). New code imports ``cuekit.answers``."""

from cuekit.answers import Verdict, extract, find_boxed, judge

__all__ = ["Verdict", "extract", "find_boxed", "judge"]
