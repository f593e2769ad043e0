//! Token usage in one shape for every supplier, and its cost in integers: prices are micro-units
//! of the model's currency per million tokens, costs are nano-units of that currency.

use crate::catalog::model::Pricing;

/// The tokens of one call. Every input token is in `prompt_tokens`, whether it was read from a
/// cache (`cached_input_tokens`) or written to one (`cache_write_tokens`); reasoning tokens are
/// part of `completion_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// The supplier gave no figures: these come from a tokenizer.
    pub estimated: bool,
}

impl Usage {
    pub fn total_tokens(&self) -> i64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// Usage reported in pieces (a stream's start and end): every figure the later report
    /// gives replaces the earlier one, since suppliers report running totals.
    pub fn merge(self, later: Usage) -> Usage {
        let pick = |earlier: i64, later: i64| if later > 0 { later } else { earlier };
        Usage {
            prompt_tokens: pick(self.prompt_tokens, later.prompt_tokens),
            completion_tokens: pick(self.completion_tokens, later.completion_tokens),
            cached_input_tokens: pick(self.cached_input_tokens, later.cached_input_tokens),
            cache_write_tokens: pick(self.cache_write_tokens, later.cache_write_tokens),
            reasoning_tokens: pick(self.reasoning_tokens, later.reasoning_tokens),
            estimated: self.estimated && later.estimated,
        }
    }
}

/// More tokens than any call has (2^40, about 1.1 trillion).
const MAX_TOKENS: i64 = 1 << 40;

/// Nano-units per micro-unit, over the million tokens a price is given for.
const NANOS_PER_MICRO_PER_MILLION: i128 = 1_000_000 / 1_000;

/// What `usage` costs at `prices`, in nano-units of `prices.currency`, rounded half up.
/// Cached input is charged at the cached price (the input price when the model has none); cache
/// writes at the input price (the catalog has no price of their own); reasoning as output.
pub fn cost_nanos(usage: &Usage, prices: &Pricing) -> i64 {
    // No call has a trillion tokens; clamping keeps the sums far inside i128 whatever a
    // supplier reports.
    let tokens = |n: i64| i128::from(n.clamp(0, MAX_TOKENS));
    let cached = tokens(usage.cached_input_tokens);
    let written = tokens(usage.cache_write_tokens);
    let uncached = (tokens(usage.prompt_tokens) - cached - written).max(0);
    let cached_price = i128::from(prices.cached_input.unwrap_or(prices.input));
    // tokens × micro-units per million tokens × 1000 nano per micro / 1_000_000 tokens.
    let micro_per_million = uncached * i128::from(prices.input)
        + cached * cached_price
        + written * i128::from(prices.input)
        + tokens(usage.completion_tokens) * i128::from(prices.output);
    let nanos = (micro_per_million + NANOS_PER_MICRO_PER_MILLION / 2) / NANOS_PER_MICRO_PER_MILLION;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(input: i64, cached: Option<i64>, output: i64) -> Pricing {
        Pricing {
            input,
            cached_input: cached,
            output,
            currency: "USD".into(),
        }
    }

    #[test]
    fn cost_is_exact_in_nano_units() {
        // 2.50 USD and 10 USD per million tokens; 1000 in, 500 out: 0.0025 + 0.005 USD.
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 500,
            ..Usage::default()
        };
        assert_eq!(cost_nanos(&usage, &prices(2_500_000, None, 10_000_000)), 7_500_000);
        // One token at 1 micro-unit per million is a thousandth of a nano-unit: rounds to 0;
        // 500 such tokens are half a nano-unit: rounds up.
        let one = Usage {
            prompt_tokens: 1,
            ..Usage::default()
        };
        assert_eq!(cost_nanos(&one, &prices(1, None, 0)), 0);
        let five_hundred = Usage {
            prompt_tokens: 500,
            ..Usage::default()
        };
        assert_eq!(cost_nanos(&five_hundred, &prices(1, None, 0)), 1);
    }

    #[test]
    fn cached_input_is_charged_at_its_own_price_and_writes_at_the_input_price() {
        let usage = Usage {
            prompt_tokens: 10_000,
            cached_input_tokens: 6_000,
            cache_write_tokens: 1_000,
            completion_tokens: 100,
            reasoning_tokens: 40,
            ..Usage::default()
        };
        // 3000 uncached + 1000 written at 3.00, 6000 cached at 0.30, 100 out at 15.00 (USD/M).
        let cost = cost_nanos(&usage, &prices(3_000_000, Some(300_000), 15_000_000));
        assert_eq!(cost, 4000 * 3_000 + 6000 * 300 + 100 * 15_000);
        // Without a cached price, cached tokens cost the input price.
        let cost = cost_nanos(&usage, &prices(3_000_000, None, 15_000_000));
        assert_eq!(cost, 10_000 * 3_000 + 100 * 15_000);
    }

    #[test]
    fn huge_figures_do_not_overflow() {
        let usage = Usage {
            prompt_tokens: i64::MAX,
            completion_tokens: i64::MAX,
            ..Usage::default()
        };
        assert_eq!(cost_nanos(&usage, &prices(i64::MAX, None, i64::MAX)), i64::MAX);
        let negative = Usage {
            prompt_tokens: -5,
            cached_input_tokens: 9,
            ..Usage::default()
        };
        assert_eq!(
            cost_nanos(&negative, &prices(1_000_000, None, 0)),
            9_000,
            "nonsense figures cost what they say, never less than nothing"
        );
    }

    #[test]
    fn later_usage_reports_replace_earlier_ones() {
        let start = Usage {
            prompt_tokens: 25,
            completion_tokens: 1,
            cached_input_tokens: 5,
            ..Usage::default()
        };
        let end = Usage {
            completion_tokens: 40,
            ..Usage::default()
        };
        let merged = start.merge(end);
        assert_eq!(
            (
                merged.prompt_tokens,
                merged.completion_tokens,
                merged.cached_input_tokens
            ),
            (25, 40, 5)
        );
        assert_eq!(merged.total_tokens(), 65);
    }
}
