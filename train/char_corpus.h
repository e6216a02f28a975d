#pragma once
// The data side of a character-level language model: a built-in generated corpus, the
// byte vocabulary, and random training windows. Shape letters: b batch, t window length.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "moegrad/core/generator.h"
#include "moegrad/core/tensor.h"

namespace moegrad::train {

// English-like text from a small seeded grammar (sentences with dialogue, names, commas,
// questions; one paragraph a line), identical on every machine for a given seed. It stops
// at the first paragraph end at or past approx_chars.
std::string builtin_corpus(uint64_t seed, size_t approx_chars = 200000);

// The whole contents of a regular file of at most kMaxTextFileBytes, as bytes; throws
// moegrad::Error naming the file when it cannot be read, is not a regular file, is too
// large or is empty.
std::string load_text_file(const std::string& path);
// Why a text of `chars` characters cannot be split for windows of seq_len, or "".
std::string text_length_problem(int64_t chars, int64_t seq_len);

// The shortest text a CharDataset with this seq_len accepts: each split (the last 10% is
// eval) needs seq_len + 2 characters.
int64_t min_text_chars(int64_t seq_len);

// The sorted distinct bytes of a text; id i is the i-th smallest byte.
class CharVocab {
 public:
  // Throws on an empty text: a vocabulary must have at least one character.
  explicit CharVocab(const std::string& text);

  int64_t size() const { return static_cast<int64_t>(chars_.size()); }
  // The characters in id order.
  const std::string& chars() const { return chars_; }
  bool contains(char c) const { return index_[static_cast<unsigned char>(c)] >= 0; }

  // Throws naming the first character not in the vocabulary and its byte position.
  std::vector<int64_t> encode(const std::string& text) const;
  // Throws naming the first id outside [0, size()) and its position.
  std::string decode(const std::vector<int64_t>& ids) const;

  // Lossless for any bytes: two lowercase hex digits per character, in id order, so a
  // checkpoint can store it as a plain string.
  std::string to_string() const;
  // Inverse of to_string; throws on odd length, non-hex digits or bytes not strictly
  // increasing (not something to_string wrote).
  static CharVocab from_string(const std::string& s);

 private:
  CharVocab() = default;
  void build_index();

  std::string chars_;
  std::array<int32_t, 256> index_{};  // byte -> id, -1 when absent
};

// A text encoded once and split: the first 90% trains, the last 10% evaluates.
struct CharDataset {
  // The vocabulary is built from the whole text. Throws when either split is shorter than
  // seq_len + 2 characters (a window is seq_len + 1, and a split should hold at least two).
  CharDataset(const std::string& text, int64_t seq_len);
  // With a given vocabulary (a checkpoint's), which must cover every character of text.
  CharDataset(const std::string& text, int64_t seq_len, CharVocab vocab);

  // int64 (batch, seq_len + 1) windows at independent uniform starts of the chosen split:
  // inputs are [:, :-1], targets [:, 1:]. Each row takes exactly one gen.next_u64().
  Tensor sample_batch(bool eval, int64_t batch, int64_t seq_len, Generator& gen) const;

  CharVocab vocab;
  std::vector<int64_t> train_ids;
  std::vector<int64_t> eval_ids;
};

}  // namespace moegrad::train
