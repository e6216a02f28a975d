#pragma once
// Specs registered by name, in registration order: the expert kinds, model kinds,
// optimizers and schedules a program may extend. Lookups and registrations may come from
// any thread; a found spec stays valid (and unchanged) while others are added.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "moegrad/core/error.h"

namespace moegrad {

template <typename Spec>
class Registry {
 public:
  // `what` names a spec in messages ("expert kind"); `builtins` are registered first.
  Registry(std::string what, std::vector<Spec> builtins) : what_(std::move(what)) {
    for (Spec& s : builtins) add(std::move(s));
  }

  // Throws an Error when the name is taken.
  void add(Spec spec) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string name = spec.name;
    MOEGRAD_CHECK(!specs_.count(name), "the ", what_, " '", name, "' is registered already");
    order_.push_back(name);
    specs_.emplace(name, std::move(spec));
  }

  // The spec of that name, or a ConfigError on `key` listing the registered names.
  const Spec& find(const std::string& name, const std::string& key = "kind") const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      std::string known;
      for (const std::string& n : order_) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError(key, "unknown " + what_ + " '" + name + "' (registered: " + known + ")");
    }
    return it->second;  // map nodes stay put as others are added
  }

  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::string what_;
  mutable std::mutex mu_;
  std::map<std::string, Spec> specs_;
  std::vector<std::string> order_;
};

}  // namespace moegrad
