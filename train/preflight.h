#pragma once
// check-config's pre-flight: what a config will ask of this machine, from the config alone
// (nothing is built or allocated): parameters, a training step's memory and, per MoE layer,
// the expert capacity against the tokens an expert can expect.
#include <string>

#include "moegrad/train/config.h"

namespace moegrad::train {

// YAML comment lines ("# ..."), so that the resolved config printed before them still loads.
std::string preflight_comments(const Config& c);

}  // namespace moegrad::train
