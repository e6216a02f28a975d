#include "moegrad/train/sampling.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/train/char_corpus.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"
#include "moegrad/train/moe_lm.h"
#include "moegrad/train/task.h"
#include "moegrad/train/trainer.h"

namespace moegrad::train {

std::string sample_text(const SampleOptions& opt) {
  const bool from_checkpoint = !opt.checkpoint.empty();
  const std::string source = from_checkpoint ? opt.checkpoint : opt.weights;
  const std::string option = (from_checkpoint ? "--checkpoint " : "--weights ") + source;
  const ModelWeights s = from_checkpoint ? checkpoint_weights(opt.checkpoint) : load_weights(opt.weights);
  const Config cfg = weights_config(opt.config, {}, s, source, option);
  if (cfg.model.kind != "moe_lm")
    throw ConfigFileError(source, "model.kind", "sampling needs a moe_lm model, this one is " + cfg.model.kind);
  if (!(opt.temperature > 0)) throw ConfigFileError("--temperature", "temperature", "must be positive");
  CharVocab vocab = CharVocab::from_string(s.vocab.empty() ? make_task(cfg, DType::f32)->vocabulary() : s.vocab);
  Generator init(0), gen(opt.seed);
  MoELM model(cfg, vocab.size(), init, DType::f32);
  model.to(opt.device);  // the checkpoint's device does not matter: its tensors are host bytes
  model.load_state_dict(s.model, /*strict=*/true);
  model.eval();
  NoGradGuard no_grad;
  std::vector<int64_t> ids = vocab.encode(opt.prompt);
  if (ids.empty()) ids.push_back(0);
  moe::GatingCall call;
  call.gen = &gen;
  for (int64_t i = 0; i < opt.length; ++i) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(ids.size()), model.context());
    std::vector<int64_t> window(ids.end() - n, ids.end());
    Tensor tokens = from_vector(window, {1, n}, DType::i64, backend_for(opt.device));
    Tensor logits = model.logits(tokens, call).prediction;  // (1, n, vocab)
    Tensor last = core::to(core::reshape(core::narrow(logits, 1, n - 1, 1), {vocab.size()}), DType::f64);
    std::vector<double> p =
        core::softmax(core::binary(BinaryOp::div, last, core::scalar_like(opt.temperature, last)), 0)
            .to_vector<double>();
    // Finite weights can still overflow the logits; sampling from NaNs would print the last
    // character of the vocabulary forever.
    for (double q : p)
      if (!std::isfinite(q))
        throw NumericalError(source + ": the model's next-character probabilities are not finite (its " +
                             "weights overflow the logits); it cannot be sampled");
    double u = gen.next_double(), acc = 0;
    int64_t pick = static_cast<int64_t>(p.size()) - 1;
    for (size_t c = 0; c < p.size(); ++c) {
      acc += p[c];
      if (u < acc) {
        pick = static_cast<int64_t>(c);
        break;
      }
    }
    ids.push_back(pick);
  }
  return vocab.decode(ids);
}

}  // namespace moegrad::train
