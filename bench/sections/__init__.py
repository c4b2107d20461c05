"""``bench/RESULTS.md`` from ``bench/results.json``: one section a bench part (its typed
result, its renderer, its prose in ``templates/<part>.md``), in the order of the run.

    decision.py     part 1, decision cost           (bench/decision_cost.py)
    api.py          part 2, AWS calls per tick      (bench/api_calls.py)
    savings.py      part 3, savings and regret      (bench/savings.py)
    cold_start.py   part 4, cold start              (bench/cold_start.py)
    frontier.py     part 5, the policies' frontier  (bench/frontier.py)
    completion.py   part 6, a completion            (bench/completion.py)
    health_cost.py  part 7, the health rules' cost  (bench/health_cost.py)
    scale.py        part 8, the sharded tick        (bench/scale.py)
    document.py     the page: headline (each part's rows), machine, how to reproduce
    __main__.py     python -m bench.sections: RESULTS.md from results.json again, no bench run
    text.py         number formats, tables, the templates
"""

from .document import render

__all__ = ["render"]
