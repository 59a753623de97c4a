"""Cost calculations per second: ours against tokencost and genai-prices, same model, one run.

python -m bench.costs
"""

from __future__ import annotations

import timeit
import warnings
from collections.abc import Callable

from chronos_chat import calculate_chat_cost, load_catalog

MODEL = "claude-3-5-haiku-20241022"


def contenders() -> dict[str, Callable[[], object]]:
    """One cost calculation of 500 input and 800 output tokens, by each library."""
    from genai_prices import Usage, calc_price

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tokencost import calculate_cost_by_tokens

    catalog = load_catalog()

    def ours() -> object:
        return calculate_chat_cost(500, 800, MODEL, catalog=catalog).total_cost

    def tokencost() -> object:
        return calculate_cost_by_tokens(500, MODEL, "input") + calculate_cost_by_tokens(
            800, MODEL, "output"
        )

    def genai_prices() -> object:
        return calc_price(
            Usage(input_tokens=500, output_tokens=800), model_ref=MODEL, provider_id="anthropic"
        ).total_price

    return {"chronos-chat": ours, "tokencost": tokencost, "genai-prices": genai_prices}


def main() -> None:
    """Print a Markdown table of calculations per second and ratios to ours."""
    runs = contenders()
    results = {name: str(fn()) for name, fn in runs.items()}
    rates = {}
    for name, fn in runs.items():
        number = 2000
        best = min(timeit.repeat(fn, number=number, repeat=5))
        rates[name] = number / best
    ours = rates["chronos-chat"]
    print(f"| library | calculations/s | ours / theirs | $ for 500 in + 800 out on {MODEL} |")
    print("|---|---:|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {ours / rate:.1f}x | {results[name]} |")


if __name__ == "__main__":
    main()
