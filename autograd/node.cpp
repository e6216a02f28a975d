#include "moegrad/autograd/node.h"

namespace moegrad {

Node::~Node() {
  // A node whose last reference is ours would be destroyed inside this destructor and
  // destroy its own inputs inside its, and so on down the graph. Take such nodes over
  // instead: each is destroyed here after its edges were emptied the same way, so every
  // destructor returns without going deeper. Nodes others still hold are simply released.
  std::vector<std::shared_ptr<Node>> orphans;
  auto take_orphans = [&orphans](std::vector<Edge>& edges) {
    for (Edge& e : edges)
      if (e.node && e.node.use_count() == 1) orphans.push_back(std::move(e.node));
  };
  take_orphans(next_edges);
  while (!orphans.empty()) {
    std::shared_ptr<Node> n = std::move(orphans.back());
    orphans.pop_back();
    take_orphans(n->next_edges);
  }  // each `n` dies at the end of its iteration, with no orphans left to recurse into
}

}  // namespace moegrad
