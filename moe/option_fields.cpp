// The fields of moe's options structs, each declared once. The trainer's YAML keys and
// their docs (train/config_schema.cpp), the parity fixtures' reader (train/parity.cpp) and
// the structs' own range checks are derived from these lists.
#include "moegrad/moe/expert_kind.h"
#include "moegrad/moe/moe.h"

namespace moegrad::moe {

namespace {

constexpr IntRange kPositiveInt{1, kAnyInt};
constexpr RealRange kPositive{0, true, kAnyFinite};
constexpr RealRange kNonNegative{0, false, kAnyFinite};

// The routing fields TopNGatingOptions and MoEOptions share under the same names;
// `count` is what the struct calls the number of experts.
template <typename S>
void add_routing_fields(OptionFields<S>& f, const std::string& count) {
  OptionField<S> top_n = int_field("top_n", "experts per token, at most `" + count + "`", kPositiveInt, &S::top_n);
  if constexpr (std::is_same_v<S, MoEOptions>) top_n.reference_name = "gating_top_n";
  f.push_back(top_n);
  f.push_back(numbers_field("threshold_train",
                            "threshold routing of choices 2..n in training: one number, or a list of `top_n - 1`",
                            kNonNegative, &S::threshold_train));
  f.push_back(numbers_field("threshold_eval", "the same in evaluation", kNonNegative, &S::threshold_eval));
  f.push_back(real_field("capacity_factor_train",
                         "expert capacity in training: `max(min(n, int(n * factor / e)), 4)` per group of n tokens",
                         kPositive, &S::capacity_factor_train));
  f.push_back(real_field("capacity_factor_eval", "the same in evaluation", kPositive, &S::capacity_factor_eval));
  f.push_back(bool_field("straight_through_dispatch_tensor", "dispatch gradients reach the gates",
                         &S::straight_through_dispatch_tensor));
  f.push_back(bool_field("differentiable_topk", "coordinate-descent top-k for the gate values", &S::differentiable_topk));
  f.push_back(bool_field("differentiable_topk_fused",
                         "the reference's fused kernel for it; same results either way (there is one kernel here)",
                         &S::differentiable_topk_fused));
  f.push_back(choice_field<S, RoutingMode>(
      "routing",
      "`token_choice`: each token takes its `top_n` experts; `expert_choice` (Zhou et al. 2022): each expert takes "
      "its top-c tokens by score, c = capacity, so a token may get none or several. It ranks over the whole group: "
      "not causal",
      {{"token_choice", RoutingMode::token_choice}, {"expert_choice", RoutingMode::expert_choice}}, &S::routing));
  f.push_back(bool_field("dropless",
                         "no capacity: every routed choice is kept and each expert runs on as many tokens as chose "
                         "it (megablocks). Needs `dispatch: indexed`",
                         &S::dropless));
  f.push_back(choice_field<S, ScoreFunction>(
      "score_function",
      "gate scores from the logits: `softmax` over experts, or `sigmoid` per expert (DeepSeek-V3)",
      {{"softmax", ScoreFunction::softmax}, {"sigmoid", ScoreFunction::sigmoid}}, &S::score_function));
  f.push_back(bool_field("renormalize_gates",
                         "divide the chosen gates by their sum. With `top_n: 1` the gate is then identically 1 and "
                         "the router learns nothing from the main loss",
                         &S::renormalize_gates));
  f.push_back(choice_field<S, BalanceLoss>(
      "balance_loss",
      "`st_moe` (choice 0 after capacity drops, per group), `gshard` (before drops, per group), `switch` (first "
      "choices over all tokens), `seq_aux` (DeepSeek's per sequence, all top-n choices), `none`",
      {{"st_moe", BalanceLoss::st_moe},
       {"switch", BalanceLoss::switch_},
       {"gshard", BalanceLoss::gshard},
       {"seq_aux", BalanceLoss::seq_aux},
       {"none", BalanceLoss::none}},
      &S::balance_loss));
  f.push_back(bool_field("router_z_loss", "compute the router z-loss (its weight is `router_z_loss_coef`)",
                         &S::router_z_loss));
  f.push_back(bool_field("expert_bias",
                         "aux-loss-free balancing (DeepSeek-V3): a per-expert bias on the scores that choose the "
                         "experts, never on the gate values, moved after each optimizer step toward the mean load",
                         &S::expert_bias));
  f.push_back(real_field("expert_bias_update_rate",
                         "its step: `bias_i += rate * sign(mean load - load_i)` (Megatron-Core's default, 1e-3)",
                         kNonNegative, &S::expert_bias_update_rate));
}

std::string expert_kinds_text() {
  std::string s;
  for (const std::string& n : expert_kind_names()) s += (s.empty() ? "a registered expert kind: `" : ", `") + n + "`";
  return s;
}

}  // namespace

const OptionFields<TopNGatingOptions>& TopNGatingOptions::fields() {
  static const OptionFields<TopNGatingOptions> f = [] {
    using S = TopNGatingOptions;
    OptionFields<S> f{
        int_field("dim", "input width", kPositiveInt, &S::dim),
        int_field("num_gates", "experts to route among", kPositiveInt, &S::num_gates),
        real_field("eps", "the first choice's threshold, and the floor of the gates' normaliser", kPositive, &S::eps),
    };
    add_routing_fields(f, "num_gates");
    f.push_back(int_field("min_expert_capacity", "the least capacity an expert gets", kPositiveInt, &S::min_expert_capacity));
    return f;
  }();
  return f;
}

const OptionFields<MoEOptions>& MoEOptions::fields() {
  static const OptionFields<MoEOptions> f = [] {
    using S = MoEOptions;
    OptionFields<S> f{
        int_field("dim", "input width", kPositiveInt, &S::dim),
        int_field("num_experts", "experts per MoE layer", kPositiveInt, &S::num_experts),
        real_field("expert_hidden_mult",
                   "expert hidden width: `int(dim * expert_hidden_mult * 2 / 3)` for `geglu` and `swiglu`, "
                   "`int(dim * expert_hidden_mult)` for `mlp`",
                   kPositive, &S::expert_hidden_mult),
        text_field("expert_kind",
                   "what each expert (and each dense feedforward) is: `geglu` (Linear, GEGLU, Linear: st-moe's), "
                   "`swiglu` (Linear, SwiGLU, Linear), `mlp` (Linear, GELU, Linear), or a kind a program registered "
                   "(moe/expert_kind.h)",
                   &S::expert_kind, expert_kinds_text),
    };
    add_routing_fields(f, "num_experts");
    f.push_back(real_field("balance_loss_coef", "weight of the balance loss added to the main loss", kNonNegative,
                           &S::balance_loss_coef));
    f.push_back(real_field("router_z_loss_coef", "weight of the router z-loss added to the main loss", kNonNegative,
                           &S::router_z_loss_coef));
    f.push_back(int_field("num_shared_experts",
                          "experts every token passes through, added to the routed output (DeepSeekMoE); as the "
                          "routed ones, so fine-grained experts come from `num_experts` and `expert_hidden_mult`",
                          IntRange{0, kAnyInt}, &S::num_shared_experts));
    f.push_back(choice_field<S, Dispatch>(
        "dispatch", "gather/scatter of routed tokens (`indexed`) or the reference's einsums (`dense`); same results",
        {{"indexed", Dispatch::indexed}, {"dense", Dispatch::dense}}, &S::dispatch));
    return f;
  }();
  return f;
}

const OptionFields<SparseMoEBlockOptions>& SparseMoEBlockOptions::fields() {
  static const OptionFields<SparseMoEBlockOptions> f = [] {
    using S = SparseMoEBlockOptions;
    OptionFields<S> f = nested_fields<S, MoEOptions>(MoEOptions::fields(), [](S& s) -> MoEOptions& { return s.moe; });
    f.push_back(bool_field("add_ff_before", "a dense feedforward before each MoE (SparseMoEBlock)", &S::add_ff_before));
    f.push_back(bool_field("add_ff_after", "a dense feedforward after each MoE", &S::add_ff_after));
    return f;
  }();
  return f;
}

const OptionFields<ExpertOptions>& ExpertOptions::fields() {
  static const OptionFields<ExpertOptions> f = [] {
    using S = ExpertOptions;
    return OptionFields<S>{
        int_field("dim", "input and output width", kPositiveInt, &S::dim),
        real_field("hidden_mult", "hidden width, as the kind computes it from `dim * hidden_mult`", kPositive,
                   &S::hidden_mult),
        bool_field("mult_bias", "`geglu`: a learned scale on the GEGLU output", &S::mult_bias),
        bool_field("prenorm", "an RMSNorm before the net", &S::prenorm),
        text_field("kind", "the expert kind (moe/expert_kind.h)", &S::kind, expert_kinds_text),
    };
  }();
  return f;
}

const OptionFields<MoERouterOptions>& MoERouterOptions::fields() {
  static const OptionFields<MoERouterOptions> f = [] {
    using S = MoERouterOptions;
    return OptionFields<S>{
        int_field("dim", "input width", kPositiveInt, &S::dim),
        int_field("num_experts", "outputs: one logit per expert", kPositiveInt, &S::num_experts),
        choice_field<S, RouterMechanism>("mechanism",
                                         "`softmax` of the logits, or `gumbel`: hard straight-through gumbel-softmax",
                                         {{"softmax", RouterMechanism::softmax}, {"gumbel", RouterMechanism::gumbel}},
                                         &S::mechanism),
    };
  }();
  return f;
}

}  // namespace moegrad::moe
