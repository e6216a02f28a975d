// The character-level data path: the built-in corpus, the byte vocabulary and its
// serialisation, and random training windows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "moegrad/core/core.h"
#include "moegrad/train/char_corpus.h"

using namespace moegrad;
using namespace moegrad::train;

namespace {
// Entropy in bits of the next character given the previous `context` characters.
double conditional_entropy(const std::string& text, size_t context) {
  std::map<std::string, double> with_next, without_next;
  for (size_t i = context; i < text.size(); ++i) {
    with_next[text.substr(i - context, context + 1)] += 1;
    without_next[text.substr(i - context, context)] += 1;
  }
  const double total = static_cast<double>(text.size() - context);
  double h = 0;
  for (const auto& [gram, count] : with_next)
    h -= count / total * std::log2(count / without_next.at(gram.substr(0, context)));
  return h;
}

std::filesystem::path temp_file(const std::string& name, const std::string& contents) {
  std::filesystem::path p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p, std::ios::binary) << contents;
  return p;
}
}  // namespace

TEST_CASE("builtin_corpus: deterministic per seed, different across seeds",
          "[train][char_corpus]") {
  const std::string a = builtin_corpus(0), b = builtin_corpus(0), c = builtin_corpus(1);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(builtin_corpus(7, 5000) == builtin_corpus(7, 5000));
  // Pinned: the text must be the same on every machine and compiler, not only within a run.
  CHECK(a.substr(0, 95) ==
        "\"Did every umbrella lift a bright owl?\" shouted Hugo. Then the quick queen danced very "
        "quickly.");
  // It stops at the first paragraph end at or past the requested size.
  CHECK(a.size() >= 200000);
  CHECK(a.size() < 201000);
  CHECK(a.back() == '\n');
  const std::string small = builtin_corpus(3, 1000);
  CHECK(small.size() >= 1000);
  CHECK(small.size() < 2000);
  CHECK(small.back() == '\n');
}

TEST_CASE("builtin_corpus: printable text, 40 to 60 characters, learnable structure",
          "[train][char_corpus]") {
  const std::string text = builtin_corpus(0);
  const auto odd = std::find_if(text.begin(), text.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return ch != '\n' && (u < 0x20 || u >= 0x7f);
  });
  CHECK(odd == text.end());
  CharVocab vocab(text);
  CHECK(vocab.size() >= 40);
  CHECK(vocab.size() <= 60);
  for (char ch : std::string("\n .,?!\"'Tabz")) CHECK(vocab.contains(ch));
  // Structure a model can learn: each character of context removes over a bit of
  // uncertainty (about 4.5 bits unconditioned, 3.0 after one character, 1.7 after two);
  // uniformly random characters over the same alphabet would stay near 5.6 bits.
  const double h0 = conditional_entropy(text, 0), h1 = conditional_entropy(text, 1),
               h2 = conditional_entropy(text, 2);
  INFO("entropies " << h0 << " " << h1 << " " << h2);
  CHECK(h0 < std::log2(static_cast<double>(vocab.size())) - 0.5);
  CHECK(h1 < h0 - 1.0);
  CHECK(h2 < h1 - 1.0);
}

TEST_CASE("CharVocab: sorted bytes, encode and decode round trip", "[train][char_corpus]") {
  CharVocab vocab("hello world\n");
  CHECK(vocab.size() == 9);
  CHECK(vocab.chars() == "\n dehlorw");
  CHECK(vocab.encode("hello") == std::vector<int64_t>{4, 3, 5, 5, 6});
  CHECK(vocab.encode("").empty());
  CHECK(vocab.decode({8, 6, 7, 5, 2, 0}) == "world\n");
  const std::string text = builtin_corpus(2, 3000);
  CharVocab big(text);
  CHECK(big.decode(big.encode(text)) == text);
  CHECK_THROWS_WITH(vocab.decode({0, 9}), Catch::Contains("id 9") && Catch::Contains("position 1"));
  CHECK_THROWS_WITH(vocab.decode({-1}), Catch::Contains("id -1"));
  CHECK_THROWS_WITH(CharVocab(""), Catch::Contains("empty"));
}

TEST_CASE("CharVocab: to_string and from_string are lossless for any bytes",
          "[train][char_corpus]") {
  std::string text = "say \"hi\"\n\\path\ttab";
  text += '\0';
  text += static_cast<char>(0x80);
  text += static_cast<char>(0xc3);
  text += static_cast<char>(0xff);
  CharVocab vocab(text);
  const std::string s = vocab.to_string();
  CHECK(s.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(s.substr(0, 6) == "00090a");  // NUL, tab, newline: the three smallest bytes
  CHECK(s.substr(s.size() - 6) == "80c3ff");
  CharVocab back = CharVocab::from_string(s);
  CHECK(back.chars() == vocab.chars());
  CHECK(back.size() == vocab.size());
  CHECK(back.to_string() == s);
  CHECK(back.encode(text) == vocab.encode(text));
  CHECK(back.decode(vocab.encode(text)) == text);
  CHECK(CharVocab::from_string("0A41").chars() == "\nA");  // upper-case hex is accepted too

  CHECK_THROWS_WITH(CharVocab::from_string("0a4"), Catch::Contains("odd length 3"));
  CHECK_THROWS_WITH(CharVocab::from_string("0a4g"),
                    Catch::Contains("'4g'") && Catch::Contains("position 2"));
  CHECK_THROWS_WITH(CharVocab::from_string("410a"), Catch::Contains("increasing"));
  CHECK_THROWS_WITH(CharVocab::from_string("4141"), Catch::Contains("distinct"));
  CHECK_THROWS_WITH(CharVocab::from_string(""), Catch::Contains("empty"));
}

TEST_CASE("CharVocab: an unknown character is named with its position", "[train][char_corpus]") {
  CharVocab vocab("abc ");
  CHECK_THROWS_AS(vocab.encode("abc abd"), Error);
  CHECK_THROWS_WITH(vocab.encode("abc abd"),
                    Catch::Contains("unknown character 'd'") && Catch::Contains("position 6"));
  CHECK_THROWS_WITH(vocab.encode("ab\nc"),
                    Catch::Contains("'\\n'") && Catch::Contains("position 2"));
  CHECK_THROWS_WITH(vocab.encode(std::string("a") + static_cast<char>(0xe9)),
                    Catch::Contains("0xe9") && Catch::Contains("position 1"));
}

TEST_CASE("CharDataset: last 10% is eval, batches are int64 windows of the split",
          "[train][char_corpus]") {
  const std::string text = builtin_corpus(4, 20000);
  CharDataset data(text, 16);
  const size_t eval_len = text.size() / 10;
  REQUIRE(data.eval_ids.size() == eval_len);
  REQUIRE(data.train_ids.size() == text.size() - eval_len);
  CHECK(data.vocab.decode(data.train_ids) == text.substr(0, text.size() - eval_len));
  CHECK(data.vocab.decode(data.eval_ids) == text.substr(text.size() - eval_len));

  const int64_t b = 8, t = 16;
  for (bool eval : {false, true}) {
    const std::string& split_text =
        eval ? text.substr(text.size() - eval_len) : text.substr(0, text.size() - eval_len);
    Generator gen(11);
    Tensor batch = data.sample_batch(eval, b, t, gen);
    CHECK(batch.dtype() == DType::i64);
    REQUIRE(batch.shape() == Shape{b, t + 1});
    std::vector<int64_t> ids = batch.to_vector<int64_t>();
    std::set<size_t> positions;
    for (int64_t row = 0; row < b; ++row) {
      std::vector<int64_t> window(ids.begin() + row * (t + 1), ids.begin() + (row + 1) * (t + 1));
      for (int64_t id : window) {
        CHECK(id >= 0);
        CHECK(id < data.vocab.size());
      }
      // The decoded row is a contiguous slice of its split, found where it starts.
      const std::string s = data.vocab.decode(window);
      const size_t at = split_text.find(s);
      INFO((eval ? "eval" : "train") << " row " << row << ": " << s);
      CHECK(at != std::string::npos);
      positions.insert(at);
    }
    CHECK(positions.size() > 1);  // not one window repeated
  }
}

TEST_CASE("CharDataset: batches are reproducible from the generator's seed",
          "[train][char_corpus]") {
  CharDataset data(builtin_corpus(5, 10000), 32);
  Generator g1(3), g2(3), g3(4);
  Tensor a = data.sample_batch(false, 4, 32, g1);
  Tensor b = data.sample_batch(false, 4, 32, g2);
  Tensor c = data.sample_batch(false, 4, 32, g3);
  CHECK(a.to_vector<int64_t>() == b.to_vector<int64_t>());
  CHECK(a.to_vector<int64_t>() != c.to_vector<int64_t>());
  // One draw per row, so a caller can tell where the stream stands after a batch.
  Generator g4(3);
  for (int i = 0; i < 4; ++i) g4.next_u64();
  CHECK(g4.state() == g1.state());
  // A window as long as the split still fits: its only start is 0.
  CharDataset tiny("abcdefghijklmnopqrstuvwxyz0123", 1);  // 30 chars: train 27, eval 3
  Generator gen(0);
  CHECK(tiny.vocab.decode(tiny.sample_batch(false, 2, 26, gen).to_vector<int64_t>()) ==
        "abcdefghijklmnopqrstuvwxyz0abcdefghijklmnopqrstuvwxyz0");
  CHECK(tiny.vocab.decode(tiny.sample_batch(true, 1, 2, gen).to_vector<int64_t>()) == "123");
  CHECK_THROWS_WITH(tiny.sample_batch(true, 1, 3, gen),
                    Catch::Contains("eval") && Catch::Contains("3"));
  CHECK_THROWS_WITH(tiny.sample_batch(false, 0, 4, gen), Catch::Contains("batch"));
}

TEST_CASE("CharDataset: a text too short for seq_len names the split and the lengths",
          "[train][char_corpus]") {
  // 100 chars: eval has 10, so seq_len 8 fits (10 >= 8 + 2) and seq_len 9 does not.
  const std::string text = builtin_corpus(0).substr(0, 100);
  CHECK_NOTHROW(CharDataset(text, 8));
  CHECK_THROWS_WITH(CharDataset(text, 9), Catch::Contains("eval split has 10 characters") &&
                                              Catch::Contains("seq_len + 2 = 11"));
  CHECK_THROWS_WITH(CharDataset(text, 89), Catch::Contains("train split has 90 characters"));
  CHECK_THROWS_WITH(CharDataset("", 4), Catch::Contains("train split has 0 characters"));
  CHECK_THROWS_WITH(CharDataset(text, 0), Catch::Contains("seq_len must be >= 1"));
  // With a checkpoint's vocabulary, the text must not hold characters it lacks.
  CHECK_THROWS_WITH(CharDataset(text + "~", 4, CharVocab(text)),
                    Catch::Contains("'~'") && Catch::Contains("position 100"));
  CharDataset with_vocab(text, 4, CharVocab(text + "#"));
  CHECK(with_vocab.vocab.size() == CharVocab(text).size() + 1);
}

TEST_CASE("load_text_file: reads bytes, names the file when missing or empty",
          "[train][char_corpus]") {
  const std::string contents = "line one\nline \"two\"\n\xc3\xa9";
  const auto path = temp_file("moegrad_char_corpus_test.txt", contents);
  CHECK(load_text_file(path.string()) == contents);
  const auto empty = temp_file("moegrad_char_corpus_empty.txt", "");
  CHECK_THROWS_WITH(load_text_file(empty.string()),
                    Catch::Contains(empty.string()) && Catch::Contains("empty"));
  const std::string missing =
      (std::filesystem::temp_directory_path() / "moegrad_no_such_file.txt").string();
  CHECK_THROWS_WITH(load_text_file(missing),
                    Catch::Contains(missing) && Catch::Contains("cannot be read"));
  std::filesystem::remove(path);
  std::filesystem::remove(empty);
}
