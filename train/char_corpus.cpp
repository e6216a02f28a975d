#include "moegrad/train/char_corpus.h"

#include "moegrad/core/checked_math.h"
#include "moegrad/core/file_read.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iterator>
#include <string_view>
#include <utility>

#include "moegrad/core/file_read.h"

#include "moegrad/core/creation.h"
#include "moegrad/core/error.h"

namespace moegrad::train {

namespace {

// ---- builtin_corpus -------------------------------------------------------------------

struct Verb {
  std::string_view base, past;
};

// Word lists are small on purpose: a character model can learn their spelling, "a" vs
// "an", verb forms after "did", and where capitals, commas and quotes go.
constexpr std::string_view kNames[] = {"Anna", "Ben", "Clara", "Elena", "Hugo", "Iris",
                                       "Leo",  "Mia", "Noah",  "Rosa",  "Sam",  "Tom"};
constexpr std::string_view kNouns[] = {
    "fox",   "dog",    "cat",   "bird",   "king",  "queen",  "river",  "garden",
    "house", "window", "road",  "forest", "boat",  "lamp",   "door",   "letter",
    "horse", "child",  "baker", "farmer", "stone", "bridge", "tower",  "apple",
    "box",   "jar",    "quilt", "wizard", "owl",   "island", "engine", "umbrella"};
constexpr std::string_view kAdjectives[] = {
    "old",   "small",  "quiet",   "bright", "dark", "green", "heavy", "lazy", "quick",
    "brown", "gentle", "strange", "warm",   "cold", "empty", "tall",  "odd",  "ancient"};
constexpr Verb kTransitive[] = {{"see", "saw"},       {"find", "found"},   {"carry", "carried"},
                                {"watch", "watched"}, {"open", "opened"},  {"follow", "followed"},
                                {"paint", "painted"}, {"lift", "lifted"},  {"hide", "hid"},
                                {"call", "called"},   {"build", "built"},  {"take", "took"},
                                {"fix", "fixed"},     {"visit", "visited"}};
constexpr Verb kIntransitive[] = {{"sleep", "slept"},  {"laugh", "laughed"}, {"wait", "waited"},
                                  {"run", "ran"},      {"sing", "sang"},     {"fall", "fell"},
                                  {"jump", "jumped"},  {"smile", "smiled"},  {"walk", "walked"},
                                  {"stop", "stopped"}, {"dance", "danced"},  {"cry", "cried"}};
constexpr std::string_view kPrepositions[] = {"near", "under",  "behind", "across",
                                              "over", "beside", "inside", "through"};
constexpr std::string_view kTimes[] = {"in the morning", "at night",   "after dinner", "every day",
                                       "before noon",    "all winter", "yesterday"};
constexpr std::string_view kAdverbs[] = {"slowly",  "quietly",      "again",
                                         "at once", "very quickly", "without a word"};
constexpr std::string_view kSpeech[] = {"said", "asked", "whispered", "shouted", "replied"};

// Every sentence is built with cat({...}): a braced list evaluates its elements left to
// right, so the order of generator draws (and the text) is the same under every compiler,
// which `a() + b()` does not promise. Appending also avoids GCC 12's -Wrestrict false
// positive on long operator+ chains (GCC bug 105651).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

class CorpusWriter {
 public:
  explicit CorpusWriter(uint64_t seed) : gen_(seed) {}

  std::string paragraph() {
    const uint64_t count = 3 + gen_.next_u64() % 5;
    std::string p;
    for (uint64_t i = 0; i < count; ++i) {
      if (i) p += ' ';
      p += sentence();
    }
    p += '\n';
    return p;
  }

 private:
  template <typename T, size_t N>
  const T& pick(const T (&list)[N]) {
    return list[gen_.next_u64() % N];
  }
  bool chance(double p) { return gen_.next_double() < p; }

  // [determiner] [adjective] noun, with "a"/"an" chosen by the next word's first letter.
  std::string noun_phrase() {
    std::string_view adjective = chance(0.4) ? pick(kAdjectives) : std::string_view();
    std::string_view noun = pick(kNouns);
    const char first = adjective.empty() ? noun[0] : adjective[0];
    const double r = gen_.next_double();
    std::string_view det =
        r < 0.6    ? "the"
        : r < 0.85 ? (std::string_view("aeiou").find(first) != std::string_view::npos ? "an" : "a")
        : r < 0.95 ? "every"
                   : "one";
    return adjective.empty() ? cat({det, " ", noun}) : cat({det, " ", adjective, " ", noun});
  }
  std::string subject() { return chance(0.5) ? std::string(pick(kNames)) : noun_phrase(); }

  std::string statement() {
    switch (gen_.next_u64() % 6) {
      case 0: {
        std::string s = cat({subject(), " ", pick(kTransitive).past, " ", noun_phrase()});
        if (chance(0.5)) s += cat({" ", pick(kPrepositions), " ", noun_phrase()});
        return s;
      }
      case 1:
        return cat({pick(kNames), " ", pick(kTransitive).past, " ", noun_phrase(), " and ",
                    pick(kTransitive).past, " ", noun_phrase()});
      case 2:
        return cat({"when ", subject(), " ", pick(kIntransitive).past, ", ", subject(), " ",
                    pick(kTransitive).past, " ", noun_phrase()});
      case 3: {
        std::string s = cat({pick(kNames), "'s ", pick(kNouns), " was ", pick(kAdjectives)});
        if (chance(0.5)) s += cat({", but the ", pick(kNouns), " was ", pick(kAdjectives)});
        return s;
      }
      case 4:
        return cat({"then ", subject(), " ", pick(kIntransitive).past, " ", pick(kAdverbs)});
      default:
        return cat({subject(), " ", pick(kIntransitive).past, " ", pick(kTimes)});
    }
  }

  std::string question() {
    switch (gen_.next_u64() % 3) {
      case 0:
        return cat({"did ", subject(), " ", pick(kTransitive).base, " ", noun_phrase(), "?"});
      case 1:
        return cat({"why did ", subject(), " ", pick(kIntransitive).base, "?"});
      default:
        return cat({"where is ", noun_phrase(), "?"});
    }
  }

  std::string sentence() {
    const double r = gen_.next_double();
    if (r < 0.55) return cat({capitalize(statement()), "."});
    if (r < 0.7) return capitalize(question());
    // Dialogue: the quote is its own capitalised sentence; the speaker follows.
    const std::string speaker = cat({pick(kSpeech), " ", pick(kNames)});
    if (r < 0.8) return cat({"\"", capitalize(question()), "\" ", speaker, "."});
    if (r < 0.9) return cat({"\"", capitalize(statement()), "!\" ", speaker, "."});
    return cat({"\"", chance(0.5) ? "Yes" : "No", ",\" ", speaker, ", \"", statement(), ".\""});
  }

  Generator gen_;
};

// ---- CharVocab helpers ----------------------------------------------------------------

std::string describe_byte(unsigned char c) {
  constexpr char hex[] = "0123456789abcdef";
  std::string code = std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
  if (c == '\n') return "'\\n' (" + code + ")";
  if (c == '\t') return "'\\t' (" + code + ")";
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "' (" + code + ")";
  return code;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Both splits must hold seq_len + 2 characters; returns text so that the delegating
// constructor reports a short text before building a vocabulary from it.
const std::string& checked_text(const std::string& text, int64_t seq_len) {
  if (std::string why = text_length_problem(static_cast<int64_t>(text.size()), seq_len); !why.empty())
    throw Error("CharDataset: " + why);
  return text;
}

}  // namespace

std::string text_length_problem(int64_t chars, int64_t seq_len) {
  if (seq_len < 1) return str_cat("seq_len must be >= 1, got ", seq_len);
  const int64_t eval_len = chars / 10;
  const int64_t train_len = chars - eval_len;
  for (auto [which, length] : {std::pair{"train", train_len}, std::pair{"eval", eval_len}})
    if (length < seq_len + 2)
      return str_cat("the ", which, " split has ", length, " characters, fewer than seq_len + 2 = ", seq_len + 2,
                     " (text of ", chars, " characters, the last 10% is eval); use a longer text or a smaller seq_len");
  return "";
}

std::string builtin_corpus(uint64_t seed, size_t approx_chars) {
  CorpusWriter writer(seed);
  std::string text;
  text.reserve(approx_chars + 1024);
  while (text.size() < approx_chars) text += writer.paragraph();
  return text;
}

std::string load_text_file(const std::string& path) {
  std::string text = read_file(path, kMaxTextFileBytes);
  if (text.empty()) throw Error(str_cat(path, ": is empty"));
  return text;
}

int64_t min_text_chars(int64_t seq_len) { return checked_mul(checked_add(seq_len, 2, "seq_len + 2"), 10, "min_text_chars"); }

CharVocab::CharVocab(const std::string& text) {
  MOEGRAD_CHECK(!text.empty(), "CharVocab: cannot build a vocabulary from an empty text");
  std::array<bool, 256> seen{};
  for (char c : text) seen[static_cast<unsigned char>(c)] = true;
  for (int b = 0; b < 256; ++b)
    if (seen[b]) chars_.push_back(static_cast<char>(b));
  build_index();
}

void CharVocab::build_index() {
  index_.fill(-1);
  for (size_t i = 0; i < chars_.size(); ++i)
    index_[static_cast<unsigned char>(chars_[i])] = static_cast<int32_t>(i);
}

std::vector<int64_t> CharVocab::encode(const std::string& text) const {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const int32_t id = index_[c];
    if (id < 0)
      throw Error(str_cat("CharVocab::encode: unknown character ", describe_byte(c),
                          " at position ", i, " (the vocabulary has ", size(), " characters)"));
    ids[i] = id;
  }
  return ids;
}

std::string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::string text(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    MOEGRAD_CHECK(ids[i] >= 0 && ids[i] < size(), "CharVocab::decode: id ", ids[i], " at position ",
                  i, " is outside [0, ", size(), ")");
    text[i] = chars_[static_cast<size_t>(ids[i])];
  }
  return text;
}

std::string CharVocab::to_string() const {
  constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * chars_.size());
  for (char c : chars_) {
    const unsigned char b = static_cast<unsigned char>(c);
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

CharVocab CharVocab::from_string(const std::string& s) {
  MOEGRAD_CHECK(!s.empty(),
                "CharVocab::from_string: empty string; expected two hex digits per character");
  MOEGRAD_CHECK(s.size() % 2 == 0, "CharVocab::from_string: odd length ", s.size(),
                "; expected two hex digits per character");
  CharVocab v;
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    MOEGRAD_CHECK(hi >= 0 && lo >= 0, "CharVocab::from_string: '", s.substr(i, 2), "' at position ",
                  i, " is not two hex digits");
    const auto b = static_cast<unsigned char>(hi * 16 + lo);
    MOEGRAD_CHECK(
        v.chars_.empty() || static_cast<unsigned char>(v.chars_.back()) < b,
        "CharVocab::from_string: characters must be distinct and in increasing byte order; ",
        describe_byte(b), " at position ", i, " breaks it");
    v.chars_.push_back(static_cast<char>(b));
  }
  v.build_index();
  return v;
}

CharDataset::CharDataset(const std::string& text, int64_t seq_len)
    : CharDataset(text, seq_len, CharVocab(checked_text(text, seq_len))) {}

CharDataset::CharDataset(const std::string& text, int64_t seq_len, CharVocab v)
    : vocab(std::move(v)) {
  checked_text(text, seq_len);
  // Encoded whole, so an unknown character's position is its position in the text.
  std::vector<int64_t> ids = vocab.encode(text);
  const auto train_len = static_cast<std::ptrdiff_t>(text.size() - text.size() / 10);
  train_ids.assign(ids.begin(), ids.begin() + train_len);
  eval_ids.assign(ids.begin() + train_len, ids.end());
}

Tensor CharDataset::sample_batch(bool eval, int64_t batch, int64_t seq_len, Generator& gen) const {
  const std::vector<int64_t>& ids = eval ? eval_ids : train_ids;
  MOEGRAD_CHECK(batch >= 1, "CharDataset::sample_batch: batch must be >= 1, got ", batch);
  MOEGRAD_CHECK(seq_len >= 1 && static_cast<int64_t>(ids.size()) >= seq_len + 1,
                "CharDataset::sample_batch: seq_len must be in [1, ", ids.size() - 1, "] for the ",
                eval ? "eval" : "train", " split of ", ids.size(), " characters, got ", seq_len);
  const int64_t t = seq_len + 1;
  const uint64_t starts = ids.size() - static_cast<uint64_t>(seq_len);  // start in [0, starts)
  std::vector<int64_t> out(static_cast<size_t>(batch * t));             // (b, t)
  for (int64_t row = 0; row < batch; ++row) {
    // The modulo bias is below 2^-40 for any text that fits in memory.
    const auto start = static_cast<std::ptrdiff_t>(gen.next_u64() % starts);
    std::copy(ids.begin() + start, ids.begin() + start + t, out.begin() + row * t);
  }
  return from_vector(out, {batch, t}, DType::i64);
}

}  // namespace moegrad::train
