"""A small built-in corpus (English, arithmetic, ChatML chats) for training tiny tokenizers.

Generated from templates with a seeded ``random.Random``, so the same seed gives the same text
and no download is needed. It only has to cover common English words, digits, punctuation and
the chat markup well enough that tokenized test data has sensible lengths; any other text still
encodes through the byte-level alphabet.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["tiny_corpus"]

# fmt: off
_SUBJECTS = [
    "the cat", "a dog", "my friend", "the teacher", "our team", "the model", "a student",
    "the city", "this book", "the river", "a small bird", "the old man", "she", "he", "we", "they",
    "you", "the computer", "the garden", "a young woman", "the company", "the robot",
]
_VERBS = [
    "likes", "reads", "writes", "finds", "builds", "sees", "wants", "learns", "makes", "helps",
    "answers", "explains", "remembers", "opens", "carries", "follows", "trains", "counts", "draws",
    "cooks", "visits", "loves", "checks", "improves",
]
_OBJECTS = [
    "the answer", "a long letter", "the red door", "fresh bread", "a new language",
    "the next question", "every morning", "the small house", "a simple plan", "the data",
    "the last train", "a cup of tea", "the blue sky", "some music", "the right word",
    "a good story", "the world", "the numbers", "a short poem", "the weather",
]
_ENDINGS = [
    ".", " today.", " again.", " with care.", " in the evening.", " before lunch.", " every day.",
    " because it is useful.", "!", "?", " quickly.", " without help.",
]
_TOPICS = [
    "photosynthesis", "gravity", "the water cycle", "prime numbers", "fractions", "rainbows",
    "volcanoes", "the moon", "machine learning", "a healthy breakfast", "the French language",
    "recycling", "electricity", "the history of paper", "a triangle", "sleep",
]
_FACTS = [
    "It is a process that turns energy into something useful.",
    "Scientists have studied it for a very long time.",
    "You can see it in everyday life if you look closely.",
    "The main idea is simple, but the details are interesting.",
    "Many people learn about it at school.", "It depends on a few basic rules that always hold.",
    "A short example often makes it easier to understand.",
]
_SYSTEMS = [
    "You are a helpful assistant.", "You are a friendly tutor who explains things clearly.",
    "Answer briefly and precisely.", "You are a careful maths assistant. Show your working.",
]
# fmt: on

# About 800 common English words, so the tokenizer learns a few thousand merges.
_WORD_TEXT = """
about above across act add after afternoon again against age ago agree air all allow almost
alone along already also always among amount and animal another answer any appear apple area
arm army around arrive art ask attention autumn away baby back bad bag ball bank base basket
beach bear beautiful because become bed before begin behind believe bell below best better
between big bird black blood blue board boat body bone book born both bottle bottom box boy
brain branch bread break bright bring brother brown build burn business busy buy call calm
camera camp can capital car card care careful carry case catch cause cell center century
certain chair chance change chapter character charge cheap check cheese chicken child choose
circle class clean clear climb clock close cloud coast coat coffee cold collect colour column
come common compare complete condition consider contain continue control cook cool copy corner
correct cost could count country course cover create cross crowd cry culture cup current cut
dance danger dark daughter day dead deal dear decide deep degree describe design detail
develop dictionary die difference difficult dinner direct discover distance divide doctor does
dollar door double down draw dream dress drink drive drop dry during duty each early earth
east easy eat edge effect egg eight either electric element else empty end enemy energy engine
enough enter equal even event ever every exact example except exercise expect experience
experiment explain eye face fact fair fall family famous far farm fast father fear feel few
field fight figure fill film final find fine finger finish fire first fish five flat floor
flower fly follow food foot force forest forget form forward four free fresh friend front
fruit full game garden gas gather general gentle girl give glass go gold good govern grass
great green ground group grow guess guide hair half hand happen happy hard hat have head
health hear heart heat heavy help here high hill history hold hole home hope horse hospital
hot hour house how huge human hundred hunt hurry idea important inch include increase industry
information insect inside instead interest invent iron island job join journey joy jump just
keep key kind king kitchen knife know lady lake land language large last late laugh law lead
learn least leave left leg length lesson letter level library lie life lift light line list
listen little live long look lose loud low machine main manage many map mark market matter
meal mean measure meat meet member memory metal method middle might mile milk million mind
minute miss modern moment money month more morning mother mountain mouth move music must name
nation natural near need neighbour never night noise north nose note nothing notice number
object ocean offer office often oil once only open operate opinion orange order organise other
outside oxygen page pain paint pair paper parent park part party pass past path pattern pay
peace pencil people perhaps period person picture piece place plan plant play please plural
poem point police poor popular position possible pound power practice prepare present press
pretty price print probable problem produce product program promise protect prove provide pull
push quality quarter question quick quiet quite race radio rain raise reach ready real reason
receive record region remember repeat reply report rest result return rich ride right ring
rise road rock roll room root rope round rule safe salt same sand save say school science
score sea season seat second section seed seem sell send sense sentence separate serve set
settle seven shape share sharp sheet shell shine ship shoe shop short should shoulder shout
show side sign silver simple since sing single sister sit six size skill skin sleep slow small
smell smile snow soft soil soldier solution solve song soon sound south space speak special
speed spell spend spring square stand star start state station stay steam step still stone
stop store storm story straight strange street strong student study subject success sudden
sugar suggest summer sun supply support sure surface surprise swim system table tail take talk
tall teach team tell temperature ten test thank thick thin thing think third though thousand
three through throw tie time tiny together tomorrow tool top total touch toward town track
trade travel tree trip trouble true try turn twenty two type under understand unit until upon
usual valley value various vegetable very village visit voice vowel wait walk wall warm wash
watch water wave way wear week weight west wheel where whether while white whole why wide wife
wild will win wind window winter wish with woman wonder wood word work world would write wrong
yard year yellow yes yesterday young zero
"""
_WORDS = _WORD_TEXT.split()


def _sentence(rng: random.Random) -> str:
    s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_ENDINGS)}"
    return s[0].upper() + s[1:]


def _word_line(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.randint(6, 14))
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ",", "!", "?", ";", ":"])


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(0, 999), rng.randint(1, 999)
    op = rng.choice(["+", "-", "*", "/"])
    if op == "+":
        result = str(a + b)
    elif op == "-":
        result = str(a - b)
    elif op == "*":
        a, b = a % 100, b % 100
        result = str(a * b)
    else:
        result = f"{a / b:.2f}"
    question = rng.choice([f"What is {a} {op} {b}?", f"Compute {a} {op} {b}.", f"{a} {op} {b} = ?"])
    answer = rng.choice([f"{a} {op} {b} = {result}", f"The answer is {result}.", result])
    return question, answer


def _chat(rng: random.Random) -> str:
    parts = []
    if rng.random() < 0.5:
        parts.append(f"<|im_start|>system\n{rng.choice(_SYSTEMS)}<|im_end|>\n")
    for _ in range(rng.randint(1, 2)):
        if rng.random() < 0.5:
            question, answer = _arithmetic(rng)
        else:
            topic = rng.choice(_TOPICS)
            question = rng.choice(
                [f"Can you explain {topic}?", f"Tell me about {topic}.", f"What is {topic}?"]
            )
            answer = f"Sure! {topic.capitalize()}: {rng.choice(_FACTS)} {_paragraph(rng)}"
        parts.append(f"<|im_start|>user\n{question}<|im_end|>\n")
        parts.append(f"<|im_start|>assistant\n{answer}<|im_end|>\n")
    return "".join(parts)


def tiny_corpus(n_docs: int = 1500, *, seed: int = 0) -> Iterator[str]:
    """Yield ``n_docs`` short documents: English prose, arithmetic lines and ChatML chats.

    Args:
        n_docs: how many documents to yield.
        seed: the same seed yields the same documents.
    """
    rng = random.Random(seed)
    for _ in range(n_docs):
        kind = rng.random()
        if kind < 0.25:
            yield _paragraph(rng)
        elif kind < 0.5:
            yield " ".join(_word_line(rng) for _ in range(rng.randint(1, 4)))
        elif kind < 0.65:
            yield "\n".join(" = ".join(_arithmetic(rng)) for _ in range(rng.randint(1, 4)))
        else:
            yield _chat(rng)
