# HumanEval-like problems (a function and its checks), as an LLM typically solves them.
# %% has-close-elements
from typing import List
def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3)
assert not has_close_elements([1.0, 2.0, 3.0], 0.5)
result = "passed"
# %% separate-paren-groups
from typing import List
def separate_paren_groups(paren_string: str) -> List[str]:
    groups, current, depth = [], [], 0
    for c in paren_string:
        if c == "(":
            depth += 1
            current.append(c)
        elif c == ")":
            depth -= 1
            current.append(c)
            if depth == 0:
                groups.append("".join(current))
                current = []
    return groups
result = separate_paren_groups("( ) (( )) (( )( ))")
assert result == ["()", "(())", "(()())"]
# %% truncate-number
def truncate_number(number: float) -> float:
    return number % 1.0
result = [truncate_number(3.5), round(truncate_number(1.33), 2)]
assert result == [0.5, 0.33]
# %% below-zero
from typing import List
def below_zero(operations: List[int]) -> bool:
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
result = [below_zero([1, 2, 3]), below_zero([1, 2, -4, 5])]
assert result == [False, True]
# %% mean-absolute-deviation
from typing import List
def mean_absolute_deviation(numbers: List[float]) -> float:
    mean = sum(numbers) / len(numbers)
    return sum(abs(x - mean) for x in numbers) / len(numbers)
result = mean_absolute_deviation([1.0, 2.0, 3.0, 4.0])
assert abs(result - 1.0) < 1e-6
# %% intersperse
from typing import List
def intersperse(numbers: List[int], delimeter: int) -> List[int]:
    if not numbers:
        return []
    out = []
    for n in numbers[:-1]:
        out.extend([n, delimeter])
    out.append(numbers[-1])
    return out
result = [intersperse([], 4), intersperse([1, 2, 3], 4)]
# %% parse-nested-parens
def parse_nested_parens(paren_string):
    def depth(s):
        d = m = 0
        for c in s:
            d += 1 if c == "(" else -1
            m = max(m, d)
        return m
    return [depth(x) for x in paren_string.split() if x]
result = parse_nested_parens("(()()) ((())) () ((())()())")
assert result == [2, 3, 1, 3]
# %% filter-by-substring
def filter_by_substring(strings, substring):
    return [x for x in strings if substring in x]
result = filter_by_substring(["abc", "bacd", "cde", "array"], "a")
# %% sum-product
from functools import reduce
def sum_product(numbers):
    return sum(numbers), reduce(lambda a, b: a * b, numbers, 1)
result = [sum_product([]), sum_product([1, 2, 3, 4])]
# %% rolling-max
def rolling_max(numbers):
    out, best = [], None
    for n in numbers:
        best = n if best is None else max(best, n)
        out.append(best)
    return out
result = rolling_max([1, 2, 3, 2, 3, 4, 2])
# %% make-palindrome
def is_palindrome(s):
    return s == s[::-1]
def make_palindrome(s):
    if not s:
        return ""
    for i in range(len(s)):
        if is_palindrome(s[i:]):
            return s + s[:i][::-1]
result = [make_palindrome(x) for x in ("", "cat", "cata", "jerry")]
print(result)
# %% string-xor
def string_xor(a, b):
    return "".join("0" if x == y else "1" for x, y in zip(a, b))
result = string_xor("010", "110")
# %% longest-string
from typing import List, Optional
def longest(strings: List[str]) -> Optional[str]:
    if not strings:
        return None
    m = max(len(s) for s in strings)
    return next(s for s in strings if len(s) == m)
result = [longest([]), longest(["a", "bb", "ccc", "dd"])]
# %% all-prefixes
def all_prefixes(string):
    return [string[: i + 1] for i in range(len(string))]
result = all_prefixes("abc")
# %% count-distinct-characters
def count_distinct_characters(string):
    return len(set(string.lower()))
result = [count_distinct_characters("xyzXYZ"), count_distinct_characters("Jerry")]
# %% parse-music
def parse_music(music_string):
    notes = {"o": 4, "o|": 2, ".|": 1}
    return [notes[x] for x in music_string.split(" ") if x]
result = parse_music("o o| .| o| o| .| .| .| .| o o")
# %% how-many-times
def how_many_times(string, substring):
    return sum(1 for i in range(len(string) - len(substring) + 1) if string[i : i + len(substring)] == substring)
result = [how_many_times("", "a"), how_many_times("aaa", "a"), how_many_times("aaaa", "aa")]
# %% sort-numbers-words
def sort_numbers(numbers):
    order = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
    return " ".join(sorted(numbers.split(), key=order.__getitem__))
result = sort_numbers("three one five")
# %% find-closest-elements
def find_closest_elements(numbers):
    s = sorted(numbers)
    return min(zip(s, s[1:]), key=lambda p: p[1] - p[0])
result = find_closest_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2])
# %% rescale-to-unit
def rescale_to_unit(numbers):
    lo, hi = min(numbers), max(numbers)
    return [(x - lo) / (hi - lo) for x in numbers]
result = rescale_to_unit([1.0, 2.0, 3.0, 4.0, 5.0])
# %% filter-integers
from typing import Any, List
def filter_integers(values: List[Any]) -> List[int]:
    return [x for x in values if isinstance(x, int) and not isinstance(x, bool)]
result = filter_integers(["a", 3.14, 5, True, {}, [], 7])
# %% largest-divisor
def largest_divisor(n):
    return next(i for i in range(n - 1, 0, -1) if n % i == 0)
result = [largest_divisor(15), largest_divisor(49), largest_divisor(3)]
# %% remove-duplicates
from collections import Counter
def remove_duplicates(numbers):
    c = Counter(numbers)
    return [n for n in numbers if c[n] == 1]
result = remove_duplicates([1, 2, 3, 2, 4])
# %% flip-case
def flip_case(string):
    return string.swapcase()
result = flip_case("Hello")
# %% get-positive
def get_positive(l):
    return [e for e in l if e > 0]
result = get_positive([5, 3, -5, 2, -3, 3, 9, 0, 123, 1, -10])
# %% is-prime
def is_prime(n):
    if n < 2:
        return False
    return all(n % k for k in range(2, int(n ** 0.5) + 1))
result = [n for n in (6, 101, 11, 13441, 61, 4, 1) if is_prime(n)]
# %% poly-find-zero
import math
def poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))
def find_zero(xs):
    begin, end = -1.0, 1.0
    while poly(xs, begin) * poly(xs, end) > 0:
        begin *= 2.0
        end *= 2.0
    while end - begin > 1e-10:
        center = (begin + end) / 2.0
        if poly(xs, center) * poly(xs, begin) > 0:
            begin = center
        else:
            end = center
    return begin
result = [round(find_zero([1, 2]), 6), round(find_zero([-6, 11, -6, 1]), 6)]
# %% sort-third
def sort_third(l):
    l = list(l)
    l[::3] = sorted(l[::3])
    return l
result = sort_third([5, 6, 3, 4, 8, 9, 2])
# %% fizz-buzz-sevens
def fizz_buzz(n):
    return sum(str(i).count("7") for i in range(n) if i % 11 == 0 or i % 13 == 0)
result = [fizz_buzz(50), fizz_buzz(78), fizz_buzz(79)]
# %% encode-cyclic
def encode_cyclic(s):
    groups = [s[3 * i : min(3 * i + 3, len(s))] for i in range((len(s) + 2) // 3)]
    return "".join(g[1:] + g[0] if len(g) == 3 else g for g in groups)
def decode_cyclic(s):
    return encode_cyclic(encode_cyclic(s))
text = "the quick brown fox"
result = [encode_cyclic(text), decode_cyclic(encode_cyclic(text)) == text]
# %% prime-fib
def prime_fib(n):
    def is_prime(p):
        return p > 1 and all(p % k for k in range(2, int(p ** 0.5) + 1))
    f = [0, 1]
    while True:
        f.append(f[-1] + f[-2])
        if is_prime(f[-1]):
            n -= 1
        if n == 0:
            return f[-1]
result = [prime_fib(i) for i in range(1, 8)]
# %% triples-sum-to-zero
from itertools import combinations
def triples_sum_to_zero(l):
    return any(a + b + c == 0 for a, b, c in combinations(l, 3))
result = [triples_sum_to_zero([1, 3, 5, 0]), triples_sum_to_zero([2, 4, -5, 3, 9, 7])]
# %% change-base
def change_base(x, base):
    out = ""
    while x > 0:
        out = str(x % base) + out
        x //= base
    return out or "0"
result = [change_base(8, 3), change_base(8, 2), change_base(7, 2), change_base(0, 2)]
# %% fib4
def fib4(n):
    results = [0, 0, 2, 0]
    if n < 4:
        return results[n]
    for _ in range(4, n + 1):
        results.append(sum(results[-4:]))
        results.pop(0)
    return results[-1]
result = [fib4(5), fib4(6), fib4(7)]
# %% median
def median(l):
    l = sorted(l)
    n = len(l)
    return l[n // 2] if n % 2 else (l[n // 2 - 1] + l[n // 2]) / 2.0
result = [median([3, 1, 2, 4, 5]), median([-10, 4, 6, 1000, 10, 20])]
# %% modp
def modp(n, p):
    return pow(2, n, p)
result = [modp(3, 5), modp(1101, 101), modp(0, 101), modp(100, 101)]
# %% vowels-count
def vowels_count(s):
    n = sum(c in "aeiouAEIOU" for c in s)
    return n + (1 if s and s[-1] in "yY" else 0)
result = [vowels_count("abcde"), vowels_count("ACEDY")]
# %% circular-shift
def circular_shift(x, shift):
    s = str(x)
    if shift > len(s):
        return s[::-1]
    return s[len(s) - shift :] + s[: len(s) - shift]
result = [circular_shift(12, 1), circular_shift(12, 2), circular_shift(97, 8)]
# %% words-in-sentence
def words_in_sentence(sentence):
    def is_prime(n):
        return n > 1 and all(n % k for k in range(2, n))
    return " ".join(w for w in sentence.split() if is_prime(len(w)))
result = words_in_sentence("lets go for swimming")
# %% order-by-points
def order_by_points(nums):
    def digits_sum(n):
        s = [int(c) for c in str(abs(n))]
        if n < 0:
            s[0] = -s[0]
        return sum(s)
    return sorted(nums, key=digits_sum)
result = order_by_points([1, 11, -1, -11, -12])
# %% specialfilter
def special_filter(nums):
    return sum(1 for n in nums if n > 10 and int(str(n)[0]) % 2 and int(str(n)[-1]) % 2)
result = [special_filter([15, -73, 14, -15]), special_filter([33, -2, -3, 45, 21, 109])]
# %% even-odd-palindrome
def even_odd_palindrome(n):
    pals = [i for i in range(1, n + 1) if str(i) == str(i)[::-1]]
    return sum(1 for p in pals if p % 2 == 0), sum(1 for p in pals if p % 2)
result = [even_odd_palindrome(3), even_odd_palindrome(12)]
# %% closest-integer
from decimal import Decimal, ROUND_HALF_UP
def closest_integer(value):
    d = Decimal(value)
    return int(d.to_integral_value(rounding=ROUND_HALF_UP)) if d >= 0 else -int((-d).to_integral_value(rounding=ROUND_HALF_UP))
result = [closest_integer(v) for v in ("10", "15.3", "14.5", "-14.5")]
# %% bf-planets
def bf(planet1, planet2):
    names = ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune")
    if planet1 not in names or planet2 not in names or planet1 == planet2:
        return ()
    i, j = sorted((names.index(planet1), names.index(planet2)))
    return names[i + 1 : j]
result = [bf("Jupiter", "Neptune"), bf("Earth", "Mercury"), bf("Mercury", "Uranus")]
# %% solve-run-checks
def candidate(s):
    if not any(c.isalpha() for c in s):
        return s[::-1]
    return "".join(c.swapcase() if c.isalpha() else c for c in s)
def check(f):
    assert f("1234") == "4321"
    assert f("ab") == "AB"
    assert f("#a@C") == "#A@c"
    return True
result = check(candidate)
