#!/usr/bin/env python3
"""Generate the bundled sample AI-data platform.

usage: python3 sample/make_sample.py --out DIR [--seed N]

Writes DIR/<dataset>/... and DIR/datasets.json (what `aidata pack --datasets`
reads); DIR must be missing or empty. About 90 MiB: ten datasets of eight
industries, all three tiers and every modality the platform serves (text,
instruction, image-text, audio, video, 3d), every shared dataset and a few
others attributed to the alliance member that contributed it (CONTRIBUTORS,
the datasets file's "contributor"). Every file of a secure dataset
carries canaries, AIDATA-SECURE-PLAINTEXT-<dataset>-<n>, so that a grep finds
leaked plaintext; no other file carries that prefix.

Deterministic: every file draws its bytes from its own random stream, keyed
by the seed and the file's path, so no file's data depends on the order in
which files are made, and the same seed gives a byte-identical tree, mtimes
included (on one platform: the same Python, zlib and C math library).
Nothing reads the clock. Standard library only (the tests run it with
`python3 -S`).
"""
import argparse
import array
import bisect
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import struct
import sys
import tarfile
import zlib

PROG = "make_sample.py"
MiB, KiB = 1 << 20, 1 << 10
EPOCH = 1767225600  # 2026-01-01T00:00:00Z; every mtime lies in the 90 days after it
MTIME_SPREAD = 90 * 86400
MARKER = "AIDATA-SECURE-PLAINTEXT"


def rng_for(seed, label):
    """The random stream of one file (or of an asset several files share)."""
    digest = hashlib.sha256(("%d:%s" % (seed, label)).encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def pick(rng, seq):
    # a third of rng.choice's cost; the text below makes millions of picks
    return seq[int(rng.random() * len(seq))]


# ---------------------------------------------------------------- text --

# Per domain and language: subjects | verbs | objects | tails. A sentence is
# [connector] subject verb object [tail]; a run of k '#' in a tail becomes a
# k-digit number.
_VOCAB = {
    "law": {
        "zh": ["原告|被告|上诉人|本院|公诉机关|辩护人|合议庭|申请执行人|仲裁委员会",
               "主张|认为|请求判令|提交了|依法审理了|确认了|驳回了|部分支持|违反了",
               "借款合同|房屋租赁协议|全部诉讼请求|相关证据材料|违约责任|逾期利息损失|劳动合同|工程价款",
               "涉案金额为人民币##.#万元|依照《民法典》第###条的规定|于202#年#月#日起诉至本院|"
               "对此本院不予采信|应按照年利率#.##%计算逾期利息|本案适用简易程序公开开庭进行了审理"],
        "en": ["the plaintiff|the defendant|the court|the appellant|the respondent|the tribunal",
               "alleged|submitted|dismissed|affirmed|breached|challenged|reviewed|upheld|rejected",
               "the loan agreement|the lease contract|the claim for damages|the evidence on record|"
               "the arbitration clause|the first-instance judgment",
               "under Article ### of the Civil Code|in the amount of RMB ###,### yuan|"
               "on # March 202#|for lack of sufficient evidence|with interest at #.#% per annum"]},
    "medicine": {
        "zh": ["患者|医生|主治医师|护士|家属|门诊医生|儿科医生|药师|会诊专家",
               "主诉|出现了|建议进行|诊断为|服用了|需要复查|排除了|密切监测|调整了",
               "持续性头痛|血压升高|空腹血糖|胸部CT检查|阿莫西林胶囊|二型糖尿病|咳嗽咳痰|心电图|肝功能指标",
               "症状已持续#天|体温38.#℃|每日#次，每次#片|血压为1#0/8#mmHg|建议低盐低脂饮食|两周后门诊复诊"],
        "en": ["the patient|the physician|the attending doctor|the nurse|the pharmacist",
               "reported|developed|was prescribed|recommended|ruled out|monitored|presented with",
               "a persistent headache|elevated blood pressure|fasting blood glucose|"
               "a chest CT scan|amoxicillin capsules|type 2 diabetes|a productive cough",
               "for # days|with a temperature of 38.# C|twice daily after meals|"
               "at a dose of ### mg|with blood pressure of 1#0/8# mmHg"]},
    "finance": {
        "zh": ["公司|本集团|董事会|管理层|审计机构|机构投资者|控股股东|全资子公司|本行",
               "实现了|披露了|计提了|拟发行|完成了|预计|回购了|调整了|审议通过了",
               "营业收入|归属于母公司股东的净利润|资产减值准备|公司债券|年度利润分配方案|应收账款|研发投入",
               "同比增长##.#%|同比下降#.#%|金额为人民币##.##亿元|报告期内|截至202#年12月31日|"
               "每10股派发现金红利#.#元（含税）"],
        "en": ["the company|the group|the board|management|the auditor|analysts|the subsidiary",
               "reported|disclosed|recognized|issued|completed|forecast|repurchased|revised",
               "operating revenue|net profit attributable to shareholders|impairment provisions|"
               "senior unsecured bonds|the annual dividend|operating cash flow|its gross margin",
               "up ##.#% year on year|down #.#% from the prior year|totalling USD ###.# million|"
               "during the reporting period|as of 31 December 202#|in line with IFRS"]},
    "education": {
        "zh": ["学生|教师|同学们|本章|这篇课文|作者|实验小组|本单元",
               "学习了|理解了|讨论了|掌握了|通过实验验证了|阅读了|分析了|总结了",
               "一元二次方程|光合作用|古诗词的意境|牛顿第二定律|文章的中心思想|化学反应速率|中国近代史",
               "请完成课后练习第#题|本节共#课时|例如：x² - #x + # = 0|这是本单元的重点和难点|如图#-#所示"],
        "en": ["the students|the teacher|this chapter|the author|the lesson|the class|each group",
               "explained|introduced|demonstrated|reviewed|explored|compared|described|summarized",
               "quadratic equations|photosynthesis|the water cycle|Newton's second law|"
               "chemical reaction rates|the industrial revolution|electromagnetic induction",
               "with # worked examples|in Unit #|before the exam|as shown in Figure #.#"]},
    "news": {
        "zh": ["记者|相关部门|专家|当地政府|市民|气象台|消费者|企业负责人|研究团队",
               "表示|发布了|介绍了|启动了|关注|报道了|呼吁|开展了|回应了|宣布了",
               "最新统计数据|暴雨黄色预警|新能源汽车销量|文化旅游活动|城市更新项目|就业形势|春运客流",
               "据新华社#月#日电|截至目前|吸引了超过##万人次参与|预计将于下月正式实施|引发社会广泛关注"],
        "en": ["officials|the ministry|local residents|experts|the weather service|consumers",
               "announced|warned of|reported|launched|welcomed|criticized|confirmed|unveiled",
               "new figures|a heavy rain warning|electric vehicle sales|a cultural festival|"
               "an urban renewal plan|the job market|traffic restrictions|holiday travel demand",
               "on Tuesday|according to a statement released on # May|amid public concern|"
               "drawing more than ##,### visitors|the agency said|up ##.#% on last year"]},
    "government": {
        "zh": ["国务院|市政府|各级部门|本办法|主管部门|街道办事处|财政局|本通知",
               "印发了|要求|加强|规定了|推进|落实|组织开展|公布了|部署了",
               "营商环境|政务服务事项|专项资金管理|安全生产责任制|基层治理|数据共享机制|老旧小区改造",
               "自发布之日起施行|请认真贯彻执行|（国办发〔202#〕##号）|确保各项任务落到实处|于202#年底前完成"],
        "en": ["the state council|the municipal government|the department|this regulation",
               "issued|required|strengthened|stipulated|promoted|implemented|published|revised",
               "the business environment|public service procedures|special fund management|"
               "grassroots governance|data sharing mechanisms|environmental protection",
               "with effect from the date of issue|as set out in Document No. ##|"
               "by the end of 202#|after a ##-day public consultation"]},
}
CONNECTORS = {"zh": [""] * 4 + "同时，|此外，|因此，|但是，|另外，|与此同时，".split("|"),
              "en": [""] * 4 + ["Moreover, ", "However, ", "In addition, ", "As a result, "]}


def _tail(pattern):
    """A tail as a %-format and the (lowest, span) of each of its numbers."""
    return (re.sub("#+", "%d", pattern.replace("%", "%%")),
            [(10 ** (len(r) - 1), 9 * 10 ** (len(r) - 1)) for r in re.findall("#+", pattern)])


# VOCAB[domain][lang] = [connectors, subjects, verbs, objects, tails]
VOCAB = {dom: {lang: [CONNECTORS[lang]] + [p.split("|") for p in parts[:3]] +
               [[_tail(t) for t in parts[3].split("|")]] for lang, parts in langs.items()}
         for dom, langs in _VOCAB.items()}
TOPICS = {"zh": "量子纠缠态|催化剂的活性|基因表达水平|暗物质分布|材料的热导率|气候变化趋势".split("|"),
          "en": ["quantum entanglement", "catalyst activity", "gene expression",
                 "thermal conductivity", "dark matter density", "long-term climate trends"]}
SURNAMES = list("张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗")
CITIES = "北京|上海|广州|深圳|杭州|成都|武汉|南京".split("|")
FIRMS = {"zh": ["华兴|恒泰|中科|远航|鼎盛|融信|海川|天成".split("|"),
                "科技|医药|能源|物流|建设|食品|电子|新材料".split("|"),
                ["股份有限公司", "有限公司", "集团股份有限公司"]],
         "en": ["Northwind|Bluestone|Redwood|Silverline|Harbor|Summit|Evergreen".split("|"),
                "Technologies|Pharmaceuticals|Energy|Logistics|Materials|Capital".split("|"),
                ["Holdings Ltd.", "Inc.", "Group plc", "Co., Ltd."]]}


def sentence(rng, dom, lang):
    # the hottest code here: picks inlined, rng.random looked up once
    r = rng.random
    conn, subj, verb, obj, tails = VOCAB[dom][lang]
    c, head = conn[int(r() * len(conn))], subj[int(r() * len(subj))]
    if lang == "zh":
        s = c + head + verb[int(r() * len(verb))] + obj[int(r() * len(obj))]
    else:
        s = "%s%s %s %s" % (c, head if c else head[0].upper() + head[1:],
                            verb[int(r() * len(verb))], obj[int(r() * len(obj))])
    if r() < 0.6:
        fmt, numbers = tails[int(r() * len(tails))]
        s += ("，" if lang == "zh" else " ") + fmt % tuple(lo + int(r() * span)
                                                          for lo, span in numbers)
    return s + ("。" if lang == "zh" else ".")


def headline(rng, dom, lang):
    _, subj, verb, obj, _ = VOCAB[dom][lang]
    words = [pick(rng, subj), pick(rng, verb), pick(rng, obj)]
    s = "".join(words) if lang == "zh" else " ".join(words)
    return s[0].upper() + s[1:]


def company(rng, lang):
    parts = [pick(rng, part) for part in FIRMS[lang]]
    return pick(rng, CITIES) + "".join(parts) if lang == "zh" else " ".join(parts)


def ticker(rng):
    return "".join(pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def pretty(obj):
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


# -------------------------------------------------------------- output --

class Platform:
    """The tree being written, and the assets several datasets share."""

    def __init__(self, root, seed):
        self.root, self.seed = root, seed
        self.files = self.links = self.bytes = 0
        self.legal_news = None  # (gzipped jsonl, records), made on first use
        self.speech = None      # see speech_parts()

    def write(self, rel, data):
        """data: str, bytes, or a list of them (big files are written piece
        by piece rather than copied into one buffer first)."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "xb") as f:  # a name written twice is a bug, not an update
            for part in data if isinstance(data, list) else [data]:
                self.bytes += f.write(part.encode() if isinstance(part, str) else part)
        self.files += 1


class Dataset:
    """One dataset being generated: its metadata, files and canaries."""

    def __init__(self, platform, name, industry, modality, tier, license_, description):
        self.p, self.name, self.industry, self.modality = platform, name, industry, modality
        self.tier, self.license, self.description = tier, license_, description
        self.secure, self.markers = tier == "secure", 0

    def rng(self, rel):
        return rng_for(self.p.seed, "%s/%s" % (self.name, rel))

    def write(self, rel, data):
        self.p.write("%s/%s" % (self.name, rel), data)

    def canary(self):
        """The next canary. Only secure datasets may carry one."""
        assert self.secure
        self.markers += 1
        return "%s-%s-%d" % (MARKER, self.name, self.markers)

    def paragraph(self, rng, dom, lang, lo, hi):
        """lo..hi sentences; in a secure dataset opened by a canary, so that
        canaries stay dense (one every few hundred bytes)."""
        text = ("" if lang == "zh" else " ").join(sentence(rng, dom, lang)
                                                  for _ in range(rng.randint(lo, hi)))
        if self.secure:
            text = ("【%s】" if lang == "zh" else "[%s] ") % self.canary() + text
        return text

    def jsonl(self, rel, target, make):
        """A jsonl file of records make(rng, id), grown to target bytes of
        text; gzipped (mtime 0: reproducible) if rel ends in .gz. Returns
        the number of records."""
        rng, stem, lines, size = self.rng(rel), rel.split(".")[0].replace("/", "-"), [], 0
        while size < target:
            lines.append((dumps(make(rng, "%s-%06d" % (stem, len(lines)))) + "\n").encode())
            size += len(lines[-1])
        data = b"".join(lines)
        self.write(rel, gzip.compress(data, 6, mtime=0) if rel.endswith(".gz") else data)
        return len(lines)

    def readme(self, layout, license_file=False):
        text = ("# %s\n\n%s\n\n| field | value |\n| --- | --- |\n| industry | %s |\n"
                "| modality | %s |\n| tier | %s |\n| license | %s |\n\n## Layout\n\n%s\n"
                "## Access\n\n%s\n" % (self.name, self.description, self.industry, self.modality,
                                       self.tier, self.license, layout, ACCESS[self.tier]))
        if self.secure:  # a canary after every paragraph: the README is secret too
            text = "".join("%s\n\nCanary: `%s`\n\n" % (par.strip("\n"), self.canary())
                           for par in text.split("\n\n") if par.strip())
        self.write("README.md", text)
        if license_file:
            self.write("LICENSE", CC_BY)


ACCESS = {
    "open": "Open tier: anyone who mounts the platform may read it.",
    "shared": "Shared tier: for alliance members whose credential grants this dataset; every "
              "open is audited. No redistribution.",
    "secure": "Secure tier: encrypted at the origin and in the cache, readable only by jobs on "
              "the secure domain's nodes. Models may leave; records never do (not into prompts, "
              "logs or issue trackers either)."}
CC_BY = """Attribution 4.0 International (CC BY 4.0)

You may share and adapt this dataset for any purpose, even commercially, if you
give appropriate credit, link to https://creativecommons.org/licenses/by/4.0/
and indicate if changes were made. No warranties are given.

Copyright (c) 2025 The AIData Sample Platform contributors.
"""


# -------------------------------------------------------------- images --

class Raster:
    """An RGB image, drawn a row span at a time (slice assignment): never a
    Python loop over every pixel."""

    def __init__(self, w, h, rgb=(255, 255, 255), px=None):
        self.w, self.h = w, h
        self.px = bytearray(px if px is not None else bytes(rgb) * (w * h))

    def rect(self, x0, y0, x1, y1, rgb):
        x0, x1 = max(0, x0), min(self.w, x1)
        if x1 > x0:
            row = bytes(rgb) * (x1 - x0)
            for y in range(max(0, y0), min(self.h, y1)):
                o = (y * self.w + x0) * 3
                self.px[o:o + len(row)] = row

    def disc(self, cx, cy, r, rgb, ring=0):
        """A filled disc or, with ring > 0, only its outer ring that wide."""
        for dy in range(-r, r + 1):
            half = math.isqrt(r * r - dy * dy)
            hole = math.isqrt((r - ring) ** 2 - dy * dy) if 0 < ring and abs(dy) < r - ring else -1
            self.rect(cx - half, cy + dy, cx - hole, cy + dy + 1, rgb)
            self.rect(cx + hole + 1, cy + dy, cx + half + 1, cy + dy + 1, rgb)

    def hgradient(self, a, b):
        row = b"".join(bytes(int(a[k] + (b[k] - a[k]) * x / (self.w - 1)) for k in range(3))
                       for x in range(self.w))
        self.px[:] = row * self.h

    def text_lines(self, rng, x0, y0, x1, y1, pitch, rgb):
        """Lines of word-like blocks: text as a scan or a projector shows it."""
        for y in range(y0, y1 - 5, pitch):
            x, end = x0, (x1 if rng.random() < 0.8 else rng.randint((x0 + x1) // 2, x1))
            while x < end:
                n = rng.randint(5, 18)
                self.rect(x, y, min(x + n, end), y + 5, rgb)
                x += n + 4

    def grain(self, rng, bits):
        """Add 0 .. 2**bits - 1 to every byte: sensor noise, the reason a
        photo-like PNG or raw frame barely compresses. Done on the whole
        image as one big integer, bytes clamped first so none carries into
        the next."""
        n, top = len(self.px), 256 - (1 << bits)
        clamped = bytes(self.px).translate(bytes(min(v, top) for v in range(256)))
        noise = (int.from_bytes(rng.randbytes(n), "little") &
                 int.from_bytes(bytes([(1 << bits) - 1]) * n, "little"))
        self.px[:] = (int.from_bytes(clamped, "little") + noise).to_bytes(n, "little")

    def png(self):
        stride = self.w * 3
        raw = b"".join(b"\0" + self.px[y * stride:(y + 1) * stride] for y in range(self.h))

        def chunk(kind, body):
            return (struct.pack(">I", len(body)) + kind + body +
                    struct.pack(">I", zlib.crc32(kind + body)))
        # level 1: on grainy images within about 5 % of level 6's size, and
        # several times faster
        return (b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))

    def bgr_bottom_up(self):
        """The pixels as a BI_RGB bitmap stores them (AVI, BMP)."""
        bgr = bytearray(self.px)
        bgr[0::3], bgr[2::3] = self.px[2::3], self.px[0::3]
        stride = self.w * 3
        return b"".join(bgr[y * stride:(y + 1) * stride] for y in range(self.h - 1, -1, -1))


def color(rng, lo, hi):
    return tuple(rng.randint(lo, hi) for _ in range(3))


def riff_chunk(fourcc, body):
    return fourcc + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)


def avi(frames, w, h, fps):
    """AVI 1.0 of uncompressed 24-bit frames (BI_RGB, bottom-up): any player
    reads it, no codec needed. A list of pieces: the frames are not copied."""
    size, n = w * h * 3, len(frames)
    avih = struct.pack("<10I16x", 1000000 // fps, size * fps, 0, 0x10, n, 0, 1, size, w, h)
    strh = b"vidsDIB " + struct.pack("<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, fps, 0, n, size,
                                     0xFFFFFFFF, 0, 0, 0, w, h)
    strf = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, size, 0, 0, 0, 0)
    strl = riff_chunk(b"LIST", b"strl" + riff_chunk(b"strh", strh) + riff_chunk(b"strf", strf))
    hdrl = riff_chunk(b"LIST", b"hdrl" + riff_chunk(b"avih", avih) + strl)
    # idx1 offsets count from the 'movi' fourcc; every frame chunk is 8 + size
    idx1 = riff_chunk(b"idx1", b"".join(b"00db" + struct.pack("<III", 0x10, 4 + i * (8 + size),
                                                              size) for i in range(n)))
    movi = 4 + n * (8 + size)
    out = [b"RIFF" + struct.pack("<I", 4 + len(hdrl) + 8 + movi + len(idx1)) + b"AVI " + hdrl +
           b"LIST" + struct.pack("<I", movi) + b"movi"]
    for frame in frames:
        out += [b"00db" + struct.pack("<I", size), frame]
    return out + [idx1]


# --------------------------------------------------------------- audio --

RATE = 16000


def lanes(values):
    """Samples in [-1, 1) as little-endian signed 16-bit PCM."""
    a = array.array("h", (int(v * 32767) for v in values))
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def speech_parts(seed):
    """What every hearing is cut from: a 2 s calibration sweep and a bank of
    voiced "syllables" (gliding harmonics under a sine envelope)."""
    rng, sweep, phase = rng_for(seed, "audio/syllables"), [], 0.0
    for i in range(2 * RATE):
        phase += 2 * math.pi * (300 + 1550 * i / RATE) / RATE
        sweep.append(0.35 * math.sin(phase))
    bank = []
    for _ in range(24):
        n, f0 = rng.randint(2, 5) * RATE // 16, rng.randint(95, 260)
        f1, phase, wave_ = f0 * (0.75 + 0.5 * rng.random()), 0.0, []
        for i in range(n):
            phase += 2 * math.pi * (f0 + (f1 - f0) * i / n) / RATE
            wave_.append(0.22 * math.sin(math.pi * i / n) *
                         (math.sin(phase) + math.sin(2 * phase) / 2 + math.sin(3 * phase) / 3))
        bank.append(lanes(wave_))
    return lanes(sweep), bank, lanes([0.0])


def speech(platform, rng, seconds):
    """seconds of 16 kHz mono 16-bit PCM: the sweep, then syllables and
    pauses drawn by rng. The low byte of every sample is random: a noise
    floor (about -48 dBFS) that makes each recording unique and barely
    compressible, as real ones are."""
    if platform.speech is None:
        platform.speech = speech_parts(platform.seed)
    sweep, bank, silence = platform.speech
    n = seconds * RATE
    parts, have = [sweep], len(sweep) // 2
    while have < n:
        parts.append(silence * (rng.randint(3, 12) * RATE // 16) if rng.random() < 0.18
                     else pick(rng, bank))
        have += len(parts[-1]) // 2
    pcm = bytearray(b"".join(parts))
    del pcm[2 * n:]
    pcm[0::2] = rng.randbytes(n)
    return pcm


def wav(pcm, comment):
    """RIFF/WAVE, 16-bit PCM mono, with a LIST/INFO comment before the data
    (the `wave` module cannot write one); as [header, pcm]."""
    fmt = riff_chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, RATE, RATE * 2, 2, 16))
    info = riff_chunk(b"LIST", b"INFO" + riff_chunk(b"ICMT", comment.encode() + b"\0"))
    head = b"WAVE" + fmt + info + b"data" + struct.pack("<I", len(pcm))
    return [b"RIFF" + struct.pack("<I", len(head) + len(pcm)) + head, pcm]


# ------------------------------------------------------------ datasets --

COURTS = [("北京市海淀区人民法院", "京0108", "beijing-haidian"),
          ("上海市浦东新区人民法院", "沪0115", "shanghai-pudong"),
          ("广州市天河区人民法院", "粤0106", "guangzhou-tianhe")]


def judgment(ds, rng, rid, lang):
    (court, code, slug), year = pick(rng, COURTS), rng.randint(2016, 2024)
    par = lambda lo, hi: ds.paragraph(rng, "law", lang, lo, hi)  # noqa: E731
    if lang == "en":
        text = "Case No. %d-CV-%05d\n%s v. %s\nJUDGMENT (English summary)\n\n%s" % (
            year, rng.randint(100, 39999), company(rng, "en"), company(rng, "en"),
            "\n\n".join(par(3, 6) for _ in range(rng.randint(3, 5))))
        return {"id": rid, "text": text, "source": "court-judgments-en", "lang": "en",
                "meta": {"court": slug.replace("-", " ").title() + " People's Court",
                         "year": year}}
    kind, short = pick(rng, [("民事", "民初"), ("刑事", "刑初"), ("行政", "行初")])
    case_no = "（%d）%s%s%d号" % (year, code, short, rng.randint(100, 39999))
    text = ("%s\n%s判决书\n%s\n原告：%s某，%s，%d年生，住%s市。\n被告：%s。\n原告向本院提出诉讼请求："
            "%s\n本院经审理认定事实如下：%s\n本院认为，%s\n综上，判决如下：\n一、被告于本判决生效之日起"
            "十日内支付原告人民币%d元；\n二、驳回原告的其他诉讼请求。\n审判员　%s某某\n%d年%d月%d日\n" % (
                court, kind, case_no, pick(rng, SURNAMES), pick(rng, "男女"),
                rng.randint(1955, 2000), pick(rng, CITIES), company(rng, "zh"), par(2, 4),
                par(3, 7), par(3, 6), rng.randint(5000, 2000000), pick(rng, SURNAMES), year,
                rng.randint(1, 12), rng.randint(1, 28)))
    return {"id": rid, "text": text, "source": "court-judgments", "lang": "zh",
            "meta": {"court": court, "case_no": case_no, "case_type": kind, "year": year}}


def article(ds, rng, rid, lang, legal=False):
    y, m, d = rng.randint(2021, 2025), rng.randint(1, 12), rng.randint(1, 28)
    doms = ("law", "news") if legal else ("news", "news", "government")
    paras = [ds.paragraph(rng, doms[i % len(doms)], lang, 2, 5) for i in range(rng.randint(2, 5))]
    url = ("https://news.example.cn/%s%04d/%02d/%02d/%06d.html" % (
        "legal/" if legal else "", y, m, d, rng.randrange(10 ** 6)) if lang == "zh" else
        "https://www.example-news.com/%04d/%02d/%02d/story-%06d" % (y, m, d,
                                                                    rng.randrange(10 ** 6)))
    return {"id": rid, "text": headline(rng, doms[0], lang) + "\n\n" + "\n\n".join(paras),
            "source": "news-crawl", "lang": lang, "url": url, "date": "%04d-%02d-%02d" % (y, m, d)}


def legal_news(ds):
    """The crawl's legal-news shard, which law-judgments-zh and news-crawl
    both ship byte for byte (so the repository stores it once). Keyed by
    the platform, not by whichever dataset asks first."""
    assert not ds.secure  # shared content must never carry a canary
    if ds.p.legal_news is None:
        rng, lines, size = rng_for(ds.p.seed, "shared/legal-news"), [], 0
        while size < 3 * MiB // 2:
            rid = "crawl-legal-zh-%06d" % len(lines)
            lines.append((dumps(article(ds, rng, rid, "zh", legal=True)) + "\n").encode())
            size += len(lines[-1])
        ds.p.legal_news = (gzip.compress(b"".join(lines), 6, mtime=0), len(lines))
    return ds.p.legal_news


def build_law(ds):
    zh = sum(ds.jsonl(rel, MiB, lambda rng, rid: judgment(ds, rng, rid, "zh"))
             for rel in ("zh/rank_00000.jsonl.gz", "zh/rank_00001.jsonl.gz"))
    en = ds.jsonl("en/rank_00000.jsonl.gz", MiB, lambda rng, rid: judgment(ds, rng, rid, "en"))
    shared, crawl = legal_news(ds)
    ds.write("zh/rank_00002.jsonl.gz", shared)
    ds.readme("- `zh/rank_0000{0,1}.jsonl.gz`: %d Chinese judgments (`id`, `text`, `source`, "
              "`lang`, `meta` per line); names replaced by 某.\n- `zh/rank_00002.jsonl.gz`: %d "
              "legal news articles from news-crawl, byte for byte its `zh/rank_00003.jsonl.gz`.\n"
              "- `en/rank_00000.jsonl.gz`: %d English case summaries.\n" % (zh, crawl, en),
              license_file=True)


def build_court(ds):
    hearings, meta = [(0, 190), (0, 38), (1, 96), (1, 300), (2, 27), (2, 64)], []
    for i, (c, seconds) in enumerate(hearings, 1):
        (court, _, slug), hid = COURTS[c], "hearing_%04d" % i
        rel = "hearings/2025/%s/%s" % (slug, hid)
        ds.write(rel + ".wav", wav(speech(ds.p, ds.rng(rel + ".wav"), seconds),
                                   "%s %s" % (ds.canary(), hid)))
        rng, segs, ms = ds.rng(rel + ".json"), [], 2000
        while ms < seconds * 1000:
            end = min(seconds * 1000, ms + rng.randint(3000, 14000))
            segs.append({"start_ms": ms, "end_ms": end,
                         "speaker": pick(rng, ["审判长", "原告代理人", "被告代理人", "书记员", "证人"]),
                         "text": ds.paragraph(rng, "law", "zh", 1, 3)})
            ms = end + rng.randint(200, 1500)
        ds.write(rel + ".json", pretty({"id": hid, "court": court, "language": "zh-CN",
                                        "sample_rate": RATE, "duration_ms": seconds * 1000,
                                        "canary": ds.canary(), "segments": segs}))
        meta.append(dumps({"id": hid, "audio": rel + ".wav", "transcript": rel + ".json",
                           "court": court, "duration_ms": seconds * 1000, "sample_rate": RATE,
                           "channels": 1, "canary": ds.canary()}) + "\n")
    ds.write("metadata.jsonl", "".join(meta))
    ds.readme("- `hearings/2025/<court>/hearing_NNNN.wav`: %d hearings, %d s in all, 16 kHz mono "
              "16-bit PCM (synthetic speech-like audio).\n- `hearings/2025/<court>/"
              "hearing_NNNN.json`: time-aligned transcript segments.\n- `metadata.jsonl`: one "
              "line per hearing.\n" % (len(hearings), sum(s for _, s in hearings)))


def build_medical(ds):
    departments = [("内科", "internal medicine"), ("儿科", "pediatrics"),
                   ("心内科", "cardiology"), ("内分泌科", "endocrinology")]

    def dialogue(rng, rid, lang):
        zh_dep, en_dep = pick(rng, departments)
        par = lambda lo, hi: ds.paragraph(rng, "medicine", lang, lo, hi)  # noqa: E731
        if lang == "zh":
            ins = "你是一名经验丰富的%s医生，请根据患者的描述给出初步判断和就医建议。" % zh_dep
            inp, out = "患者：医生您好，" + par(2, 4), "医生：您好，" + par(3, 6) + "\n" + par(2, 4)
        else:
            ins = ("You are an experienced %s physician. Read the patient's description and "
                   "give a preliminary assessment and advice." % en_dep)
            inp, out = "Patient: " + par(2, 4), "Doctor: " + par(3, 6) + "\n" + par(2, 4)
        return {"id": rid, "instruction": ins, "input": inp, "output": out, "lang": lang,
                "department": en_dep}
    n = [ds.jsonl(rel, size, lambda rng, rid, lang=rel[:2]: dialogue(rng, rid, lang))
         for rel, size in [("zh/train.jsonl", 2 * MiB), ("zh/valid.jsonl", 256 * KiB),
                           ("en/train.jsonl", 3 * MiB // 2)]]
    ds.readme("- `zh/train.jsonl` (%d dialogues), `zh/valid.jsonl` (%d), `en/train.jsonl` (%d):"
              " `instruction`, `input` (the patient), `output` (the doctor), `lang`, "
              "`department` per line.\n" % tuple(n))


def build_finance_reports(ds):
    def annual(rng, rid):
        year, firm = rng.randint(2019, 2024), company(rng, "en")
        par = lambda lo, hi: ds.paragraph(rng, "finance", "en", lo, hi)  # noqa: E731
        figures = "".join("%s: USD %d.%d million (%s%d.%d%% year on year)\n" % (
            label, rng.randint(20, 9800), rng.randrange(10), pick(rng, "++-"),
            rng.randint(0, 35), rng.randrange(10)) for label in ("Revenue", "Net profit"))
        text = ("%s Annual Report %d\n\nChairman's Statement\n%s\n\nManagement Discussion and "
                "Analysis\n%s\n\nFinancial Highlights\n%s\nRisk Factors\n%s" % (
                    firm, year, par(4, 7), "\n\n".join(par(3, 6) for _ in range(rng.randint(2, 4))),
                    figures, par(2, 5)))
        return {"id": rid, "text": text, "source": "annual-report", "lang": "en",
                "company": firm, "ticker": ticker(rng), "period": "FY%d" % year}

    def quarterly(rng, rid):
        q, firm = rng.randint(1, 3), company(rng, "zh")
        text = ("%s 2025年第%s季度报告\n\n一、主要财务数据\n营业收入：%d.%02d亿元，同比%s%d.%d%%\n\n"
                "二、经营情况讨论与分析\n%s\n\n三、重要事项\n%s" % (
                    firm, "一二三"[q - 1], rng.randint(1, 900), rng.randrange(100),
                    pick(rng, ["增长", "增长", "下降"]), rng.randint(0, 40), rng.randrange(10),
                    ds.paragraph(rng, "finance", "zh", 4, 8),
                    ds.paragraph(rng, "finance", "zh", 2, 5)))
        return {"id": rid, "text": text, "source": "quarterly-report", "lang": "zh",
                "company": firm, "ticker": "%s%04d" % (pick(rng, ["60", "00"]),
                                                       rng.randrange(10000)),
                "period": "2025Q%d" % q}
    # the platform's largest file (over 12 MiB): it spans several 4 MiB chunks
    en = ds.jsonl("filings/2024/annual/reports_en.jsonl", 13 * MiB, annual)
    zh = sum(ds.jsonl("filings/2025/%s/reports_zh.jsonl" % where, size, quarterly)
             for where, size in [("q1/sse", MiB), ("q1/szse", 768 * KiB), ("q2/sse", MiB),
                                 ("q3/sse", 640 * KiB)])
    rng = ds.rng("tables/income_statements.csv")
    rows = ["ticker,company,fiscal_year,revenue_musd,net_income_musd,eps_usd,total_assets_musd\n"]
    rows += ['%s,"%s",%d,%d.%d,%d.%d,%d.%02d,%d.%d\n' % (
        ticker(rng), company(rng, "en"), rng.randint(2015, 2024), rng.randint(10, 99999),
        rng.randrange(10), rng.randint(-500, 9999), rng.randrange(10), rng.randint(0, 25),
        rng.randrange(100), rng.randint(50, 999999), rng.randrange(10)) for _ in range(8000)]
    ds.write("tables/income_statements.csv", "".join(rows))
    ds.readme("- `filings/2024/annual/reports_en.jsonl`: %d English annual reports (the largest "
              "file of the platform).\n- `filings/2025/q<N>/<exchange>/reports_zh.jsonl`: %d "
              "Chinese quarterly reports.\n- `tables/income_statements.csv`: %d rows.\n"
              % (en, zh, len(rows) - 1))


def build_finance_instruct(ds):
    tasks = {"zh": ["请根据以下财报摘要，概括公司的经营情况。", "判断下列说法是否正确，并说明理由。",
                    "请用通俗的语言解释以下财务指标的含义。"],
             "en": ["Summarize the company's performance from the report excerpt below.",
                    "Decide whether the statement is correct and explain why.",
                    "Explain the following financial metric in plain language."]}
    n = [ds.jsonl(rel, size, lambda rng, rid, lang=rel[:2]: {
        "id": rid, "instruction": pick(rng, tasks[lang]),
        "input": ds.paragraph(rng, "finance", lang, 1, 3),
        "output": ds.paragraph(rng, "finance", lang, 2, 5), "lang": lang})
        for rel, size in [("zh/train.jsonl", 3 * MiB // 2), ("zh/test.jsonl", 192 * KiB),
                          ("en/train.jsonl", MiB)]]
    ds.readme("- `zh/train.jsonl` (%d), `zh/test.jsonl` (%d), `en/train.jsonl` (%d): Alpaca-style "
              "`{\"id\", \"instruction\", \"input\", \"output\", \"lang\"}` per line.\n" % tuple(n))


def build_edu_video(ds):
    w, h, fps, meta = 192, 108, 12, []
    for c, frames in enumerate([36, 24, 48, 30, 40, 28, 44, 32], 1):
        lang, rel = "en" if c % 2 == 0 else "zh", "clips/clip_%04d.avi" % c
        rng = ds.rng(rel)
        # the slide stays put; the pointer moves and the sensor noise changes
        slide = Raster(w, h)
        slide.hgradient(color(rng, 20, 120), color(rng, 60, 200))
        sx, sy, sw, sh = w // 8, h // 6, w * 5 // 8, h * 2 // 3
        slide.rect(sx, sy, sx + sw, sy + sh, (240, 240, 235))
        slide.text_lines(rng, sx + 8, sy + 8, sx + sw - 8, sy + sh - 4, 9, (40, 40, 60))
        out = []
        for f in range(frames):
            im = Raster(w, h, px=slide.px)
            im.disc(sx + sw * f // (frames - 1), sy + sh // 2 + (f % 7) * 2, 4, (220, 40, 40))
            im.grain(rng, 3)
            out.append(im.bgr_bottom_up())
        ds.write(rel, avi(out, w, h, fps))
        vtt = "captions/clip_%04d.%s.vtt" % (c, lang)
        rng = ds.rng(vtt)
        ds.write(vtt, "WEBVTT\n\n" + "\n".join(
            "00:00:%02d.000 --> 00:00:%02d.000\n%s\n" % (s, s + 2, sentence(rng, "education", lang))
            for s in range(0, frames // fps, 2)))
        title = ("第%d讲：" if lang == "zh" else "Lecture %d: ") % c + headline(rng, "education", lang)
        meta.append(dumps({"clip_id": "clip_%04d" % c, "video": rel, "captions": vtt,
                           "frames": frames, "fps": fps, "width": w, "height": h,
                           "duration_ms": frames * 1000 // fps, "title": title,
                           "lang": lang}) + "\n")
    ds.write("metadata.jsonl", "".join(meta))
    ds.readme("- `clips/clip_NNNN.avi`: %d lecture clips, %dx%d at %d fps, uncompressed RGB AVI "
              "(no codec needed).\n- `captions/clip_NNNN.<lang>.vtt`: WebVTT subtitles.\n"
              "- `metadata.jsonl`: one line per clip.\n" % (len(meta), w, h, fps))


def build_news(ds):
    n = {"zh": 0, "en": 0}
    for rel, size in [("zh/rank_00000.jsonl.gz", 3 * MiB // 2), ("zh/rank_00001.jsonl.gz", MiB),
                      ("en/rank_00000.jsonl.gz", 3 * MiB // 2), ("en/rank_00001.jsonl.gz", MiB)]:
        n[rel[:2]] += ds.jsonl(rel, size,
                               lambda rng, rid, lang=rel[:2]: article(ds, rng, rid, lang))
    shared, crawl = legal_news(ds)
    ds.write("zh/rank_00003.jsonl.gz", shared)
    ds.write("en/rank_00002.jsonl", b"")  # dedup removed every record: kept empty, as crawls do
    ds.readme("- `zh/rank_NNNNN.jsonl.gz`: %d Chinese articles; `zh/rank_00003.jsonl.gz` is the "
              "legal subset (%d), also shipped as `law-judgments-zh/zh/rank_00002.jsonl.gz`.\n"
              "- `en/rank_NNNNN.jsonl.gz`: %d English articles; `en/rank_00002.jsonl` is empty: "
              "every record in it was a near-duplicate.\n" % (n["zh"] + crawl, crawl, n["en"]),
              license_file=True)


def scanned_notice(rng, w, h):
    paper, red, m = rng.randint(225, 240), (200, 30, 35), w // 10
    im = Raster(w, h, (paper, paper - rng.randint(0, 8), paper - rng.randint(6, 20)))
    im.rect(w // 4, m, w * 3 // 4, m + 7, red)
    im.rect(m, m + 14, w - m, m + 15, red)
    im.text_lines(rng, m, m + 24, w - m, h - m, 10, color(rng, 30, 70))
    im.disc(w - m - 26, h - m - 26, 24, red, ring=3)  # the seal
    im.disc(w - m - 26, h - m - 26, 6, red)
    return im


def district_map(rng, w, h):
    """Districts by recursive splits: pastel fills, dark borders, roads."""
    im, boxes = Raster(w, h, (70, 70, 80)), [(0, 0, w, h)]
    while len(boxes) < 9:
        x0, y0, x1, y1 = boxes.pop(0)
        if x1 - x0 > y1 - y0:
            cut = rng.randint(x0 + (x1 - x0) // 3, x1 - (x1 - x0) // 3)
            boxes += [(x0, y0, cut, y1), (cut, y0, x1, y1)]
        else:
            cut = rng.randint(y0 + (y1 - y0) // 3, y1 - (y1 - y0) // 3)
            boxes += [(x0, y0, x1, cut), (x0, cut, x1, y1)]
    for x0, y0, x1, y1 in boxes:
        im.rect(x0 + 2, y0 + 2, x1 - 2, y1 - 2, color(rng, 150, 235))
    for _ in range(3):
        a, b = rng.randrange(w), rng.randrange(w)
        for y in range(h):
            im.rect(a + (b - a) * y // h, y, a + (b - a) * y // h + 3, y + 1, (230, 150, 40))
    return im


def build_gov_images(ds):
    per_shard, index = 72, []
    for shard in (0, 1, 3):  # shard 2 was withdrawn after review; the numbering keeps the gap
        rel, buf = "shard-%06d.tar" % shard, io.BytesIO()
        rng = ds.rng(rel)
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for k in range(per_shard):
                key, lang = "%09d" % (shard * per_shard + k), "en" if k % 3 == 1 else "zh"
                is_map = rng.random() < 0.2
                w, h = rng.randint(160, 240), rng.randint(128 if is_map else 200, 256)
                im = (district_map if is_map else scanned_notice)(rng, w, h)
                im.grain(rng, 3)
                caption = {("zh", True): "行政区划示意图：%s。", ("zh", False): "政府公文扫描件：%s。",
                           ("en", True): "Administrative map: %s.",
                           ("en", False): "Scanned government document: %s."}[lang, is_map] % (
                               headline(rng, "government", lang))
                meta = pretty({"key": key, "caption": caption, "lang": lang,
                               "doc_type": "map" if is_map else pick(rng, ["notice", "regulation"]),
                               "year": rng.randint(2010, 2025), "width": w, "height": h})
                mtime = EPOCH + rng.randrange(MTIME_SPREAD)
                for name, data in [(".png", im.png()), (".txt", (caption + "\n").encode()),
                                   (".json", meta.encode())]:
                    info = tarfile.TarInfo(key + name)
                    info.size, info.mtime, info.mode = len(data), mtime, 0o644
                    info.uname = info.gname = "aidata"
                    tar.addfile(info, io.BytesIO(data))
        ds.write(rel, buf.getvalue())
        index.append(dumps({"shard": rel, "samples": per_shard, "bytes": len(buf.getvalue())}))
    ds.write("shards.jsonl", "\n".join(index) + "\n")
    os.symlink("shard-000003.tar", os.path.join(ds.p.root, ds.name, "latest.tar"))
    ds.p.links += 1
    ds.readme("WebDataset shards `shard-00000{0,1,3}.tar` (shard 2 was withdrawn; the numbering "
              "keeps the gap), %d samples each: `<key>.png` (a scanned notice or a map), "
              "`<key>.txt` (caption), `<key>.json`. `latest.tar` is a relative symlink to the "
              "newest shard; `shards.jsonl` indexes them.\n" % per_shard)


def science_chart(rng, w, h, kind):
    im, palette = Raster(w, h), [(31, 119, 180), (255, 127, 14), (44, 160, 44)]
    left, bottom, top, right = 18, h - 14, 8, w - 8
    for x in range(left, right, 20):
        im.rect(x, top, x + 1, bottom, (225, 225, 225))
    for y in range(bottom, top, -20):
        im.rect(left, y, right, y + 1, (225, 225, 225))
    im.rect(left, top, left + 1, bottom + 1, (0, 0, 0))
    im.rect(left, bottom, right, bottom + 1, (0, 0, 0))
    for s in range(rng.randint(1, 3)):
        amp, freq, phase = 0.3 + 0.6 * rng.random(), 1 + 5 * rng.random(), 6.3 * rng.random()
        decay, prev = 0.8 * rng.random(), None
        for x in range(left + 1, right, 14 if kind == "bar" else 1):
            t = (x - left) / (right - left)
            y = (top + bottom) // 2 - int(amp * math.sin(2 * math.pi * freq * t + phase) *
                                          (1 - decay * t) * (bottom - top) / 2.2)
            if kind == "line-plot":
                lo, hi = (y, y) if prev is None else (min(prev, y), max(prev, y))
                im.rect(x, lo, x + 1, hi + 2, palette[s])
                prev = y
            elif kind == "scatter" and rng.random() < 0.12:
                im.disc(x, y + rng.randint(-4, 4), 2, palette[s])
            elif kind == "bar":
                im.rect(x + 2 + 3 * s, min(y, bottom - 1), x + 5 + 3 * s, bottom, palette[s])
    return im


def build_science(ds):
    variables = [("温度", "temperature"), ("时间", "time"), ("压强", "pressure"),
                 ("浓度", "concentration"), ("频率", "frequency")]
    index = []
    for subject in ("physics", "chemistry", "biology", "astronomy"):
        for k in range(72):
            fid, lang = "fig_%06d" % len(index), "en" if len(index) % 2 else "zh"
            rel = "figures/%s/%03d/%s" % (subject, k // 24, fid)
            rng = ds.rng(rel + ".png")
            kind = pick(rng, ["line-plot", "scatter", "bar"])
            w, h = rng.randint(128, 256), rng.randint(96, 192)
            ds.write(rel + ".png", science_chart(rng, w, h, kind).png())
            (zh_var, en_var), what = pick(rng, variables), pick(rng, TOPICS[lang])
            caption = ("图%d：%s随%s的变化。" % (k + 1, what, zh_var) if lang == "zh" else
                       "Figure %d: %s as a function of %s." % (k + 1, what, en_var))
            ds.write(rel + ".json", pretty({"id": fid, "image": rel[8:] + ".png",
                                            "caption": caption, "subject": subject,
                                            "figure_type": kind, "width": w, "height": h,
                                            "lang": lang}))
            index.append(dumps({"id": fid, "subject": subject, "meta": rel + ".json"}) + "\n")
    ds.write("index.jsonl", "".join(index))
    ds.readme("- `figures/<subject>/<bucket>/fig_NNNNNN.png`: %d small charts (line, scatter, "
              "bar).\n- `figures/<subject>/<bucket>/fig_NNNNNN.json`: metadata and a Chinese or "
              "English caption per figure.\n- `index.jsonl`: every figure and its metadata.\n"
              % len(index), license_file=True)


def part_outline(rng, kind):
    """A turned part as its closed (radius, height) outline in mm, to be
    revolved about the z axis. Every part has a bore, so r > 0 throughout;
    counter-clockwise, so (dz, -dr) along the outline points outwards."""
    R, bore = rng.uniform(30, 80), rng.uniform(6, 15)
    if kind == "flange":
        t, hub, H = rng.uniform(6, 12), rng.uniform(bore + 8, R * 0.6), rng.uniform(20, 40)
        return [(bore, 0), (R, 0), (R, t), (hub, t), (hub, H), (bore, H)]
    if kind == "pulley":  # a V-groove round the rim
        W, d = rng.uniform(14, 30), rng.uniform(5, 10)
        return [(bore, 0), (R, 0), (R, W * 0.3), (R - d, W / 2), (R, W * 0.7), (R, W), (bore, W)]
    if kind == "bearing-ring":  # a half-round raceway round the rim
        W, g, inner = rng.uniform(10, 25), rng.uniform(3, 6), max(bore + 4, R * 0.7)
        race = [(R - g * math.sin(math.pi * i / 8), W / 2 - g * math.cos(math.pi * i / 8))
                for i in range(9)]
        return [(inner, 0), (R, 0)] + race + [(R, W), (inner, W)]
    H, tip = rng.uniform(40, 90), rng.uniform(bore + 2, bore + 8)  # nozzle: a cone on a collar
    return [(bore, 0), (R * 0.6, 0), (R * 0.6, H * 0.3), (tip, H), (bore, H)]


def revolve_obj(name, outline, segments):
    """Wavefront OBJ: a ring of vertices per outline point, quads between
    neighbouring rings (the outline is closed, so the mesh is too). As many
    quads as vertices."""
    n, ring = len(outline), lambda i, s: i % n * segments + s % segments + 1
    return "".join(
        ["# %s: turned part, millimetres, z up\no %s\n" % (name, name)] +
        ["v %.4f %.4f %.4f\n" % (r * math.cos(2 * math.pi * s / segments),
                                 r * math.sin(2 * math.pi * s / segments), z)
         for r, z in outline for s in range(segments)] +
        ["f %d %d %d %d\n" % (ring(i, s), ring(i + 1, s), ring(i + 1, s + 1), ring(i, s + 1))
         for i in range(n) for s in range(segments)]), n * segments


PLY_POINT = struct.Struct("<6fB")


def scan_points(rng, outline, count):
    """A simulated laser scan: points on the surface (area-weighted) with
    their outward normals and an intensity, plus 0.05 mm of noise."""
    segs, area = [], []
    for (r0, z0), (r1, z1) in zip(outline, outline[1:] + outline[:1]):
        length = math.hypot(r1 - r0, z1 - z0)
        area.append((area[-1] if area else 0) + length * (r0 + r1))
        segs.append((r0, z0, r1 - r0, z1 - z0, (z1 - z0) / length, (r0 - r1) / length))
    out, rnd = [], rng.random
    for _ in range(count):
        r0, z0, dr, dz, nr, nz = segs[bisect.bisect(area, rnd() * area[-1])]
        t, a = rnd(), 2 * math.pi * rnd()
        c, s, r = math.cos(a), math.sin(a), r0 + dr * t
        out.append(PLY_POINT.pack(r * c + 0.05 * (rnd() - 0.5), r * s + 0.05 * (rnd() - 0.5),
                                  z0 + dz * t + 0.05 * (rnd() - 0.5), nr * c, nr * s, nz,
                                  int(60 + 180 * abs(0.6 * nr * c + 0.8 * nz))))
    return out


def ply_header(fmt, count, comment):
    return ("ply\nformat %s 1.0\ncomment %s\nelement vertex %d\n" % (fmt, comment, count) +
            "".join("property float %s\n" % p for p in ("x", "y", "z", "nx", "ny", "nz")) +
            "property uchar intensity\nend_header\n").encode()


def build_parts_3d(ds):
    materials = [("铝合金6061", "aluminium 6061"), ("不锈钢304", "stainless steel 304"),
                 ("45号钢", "C45 steel"), ("黄铜H62", "brass CuZn37")]
    labels, total = [], 0
    for i in range(12):
        kind, pid = ["flange", "pulley", "bearing-ring", "nozzle"][i % 4], "part_%04d" % (i + 1)
        mesh, scan = "meshes/%s/%s.obj" % (kind, pid), "scans/%s.ply" % pid
        rng = ds.rng(mesh)
        outline = part_outline(rng, kind)
        obj, quads = revolve_obj(pid, outline, pick(rng, [48, 64, 96]))
        ds.write(mesh, obj)
        rng = ds.rng(scan)
        count = 100000 if i == 5 else rng.randint(8, 24) * 1000  # one high-resolution scan
        points = scan_points(rng, outline, count)
        ds.write(scan, [ply_header("binary_little_endian", count, pid)] + points)
        preview = [PLY_POINT.unpack(p) for p in points[::40]]
        ds.write("scans/preview/%s.ply" % pid, [ply_header("ascii", len(preview), pid)] +
                 ["%.3f %.3f %.3f %.4f %.4f %.4f %d\n" % p for p in preview])
        (zh_mat, en_mat), size = pick(rng, materials), 2 * max(r for r, _ in outline)
        labels.append(dumps({"id": pid, "category": kind, "mesh": mesh, "scan": scan,
                             "vertices": quads, "faces": quads, "scan_points": count,
                             "diameter_mm": round(size, 2), "material": en_mat,
                             "caption_zh": "%s零件，外径%.1f毫米，材料为%s。" % (kind, size, zh_mat),
                             "caption_en": "A %s, %.1f mm across, made of %s." % (
                                 kind.replace("-", " "), size, en_mat)}) + "\n")
        total += count
    ds.write("labels.jsonl", "".join(labels))
    ds.readme("- `meshes/<category>/part_NNNN.obj`: %d turned parts as Wavefront OBJ quad "
              "meshes, in mm.\n- `scans/part_NNNN.ply`: simulated laser scans of them, binary "
              "PLY point clouds (`x y z nx ny nz intensity`), %d points in all; `scans/preview/`: "
              "every 40th point, as ASCII PLY.\n- `labels.jsonl`: category, material, size, "
              "captions (zh, en).\n" % (len(labels), total), license_file=True)


# (name, industry, modality, tier, license, description, builder)
DATASETS = [
    ("law-judgments-zh", "law", "text", "open", "CC-BY-4.0",
     "Anonymised Chinese court judgments with English summaries. 中国裁判文书（民事、刑事、行政），"
     "已脱敏。", build_law),
    ("court-hearings-audio", "law", "audio", "secure", "proprietary",
     "Recordings of closed court hearings with time-aligned Chinese transcripts. 庭审录音与转写。",
     build_court),
    ("medical-dialogue", "medicine", "instruction", "secure", "proprietary",
     "De-identified doctor-patient consultations as instruction data, Chinese and English. "
     "医患问诊对话。", build_medical),
    ("finance-reports", "finance", "text", "shared", "CC-BY-NC-4.0",
     "Annual reports (English) and quarterly reports (Chinese) of listed companies, plus "
     "income-statement tables.", build_finance_reports),
    ("finance-instruct", "finance", "instruction", "open", "Apache-2.0",
     "Financial analysis instructions with reference answers in Chinese and English. "
     "金融分析指令数据。", build_finance_instruct),
    ("edu-lecture-video", "education", "video", "shared", "CC-BY-NC-4.0",
     "University lecture clips as uncompressed AVI with WebVTT subtitles.", build_edu_video),
    ("news-crawl", "news", "text", "open", "CC-BY-4.0",
     "Deduplicated Chinese and English news articles from a web crawl. 新闻网页语料。",
     build_news),
    ("gov-images", "government", "image-text", "shared", "CC-BY-NC-4.0",
     "Scanned government notices and administrative maps with captions, as WebDataset "
     "shards. 政府公文扫描件。", build_gov_images),
    ("science-figures", "science", "image-text", "open", "CC-BY-4.0",
     "Small scientific charts with bilingual captions, one file per sample.", build_science),
    ("manufacturing-parts-3d", "manufacturing", "3d", "open", "CC-BY-4.0",
     "Turned machine parts as OBJ meshes and simulated laser-scan PLY point clouds. "
     "机加工零件三维模型与点云。", build_parts_3d),
]


# Who contributed what to the alliance pool (the datasets file's optional
# "contributor"; required for shared datasets): every shared dataset, some
# open and secure ones; the rest are the platform's own. Fictional names.
CONTRIBUTORS = {
    "finance-reports": "huaxia-securities",
    "finance-instruct": "huaxia-securities",
    "edu-lecture-video": "east-lake-university",
    "science-figures": "east-lake-university",
    "gov-images": "city-archives",
    "medical-dialogue": "lakeside-hospital",
}


# ------------------------------------------------------------ the tree --

def stamp_tree(seed, path, rel=""):
    """Set modes and mtimes, post-order. A file gets a time drawn from its
    path; a directory its newest entry's (or its own drawn time when
    empty), as if it last changed when that entry was written."""
    times = []
    for name in sorted(os.listdir(path)):
        child, crel = os.path.join(path, name), rel + "/" + name if rel else name
        if os.path.isdir(child) and not os.path.islink(child):
            times.append(stamp_tree(seed, child, crel))
            continue
        times.append(EPOCH + rng_for(seed, "mtime:" + crel).randrange(MTIME_SPREAD))
        if not os.path.islink(child):
            os.chmod(child, 0o644)
        os.utime(child, (times[-1], times[-1]), follow_symlinks=False)
    newest = max(times) if times else EPOCH + rng_for(seed, "mtime:" + rel).randrange(MTIME_SPREAD)
    os.chmod(path, 0o755)
    os.utime(path, (newest, newest))
    return newest


def seed_arg(text):
    if not re.fullmatch("[0-9]+", text) or int(text) >= 1 << 64:
        raise argparse.ArgumentTypeError("invalid seed '%s' (want an unsigned 64-bit integer)"
                                         % text)
    return int(text)


def main(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Generate the sample AI-data platform (about 90 MiB of datasets "
        "plus datasets.json) into DIR, which must be missing or empty.")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="directory to create the source tree in")
    parser.add_argument("--seed", type=seed_arg, default=1, metavar="N",
                        help="the same seed gives a byte-identical tree, mtimes included "
                        "(default 1)")
    args = parser.parse_args(argv)
    out, seed = args.out, args.seed
    try:
        if not os.path.lexists(out):
            os.makedirs(out)
        elif not os.path.isdir(out):
            sys.exit("%s: cannot generate into '%s': not a directory" % (PROG, out))
        elif os.listdir(out):
            sys.exit("%s: refusing to generate into '%s': directory is not empty" % (PROG, out))
        platform = Platform(out, seed)
        for *info, build in DATASETS:
            build(Dataset(platform, *info))
        platform.write("datasets.json", pretty({"datasets": [
            dict(zip(("name", "industry", "modality", "tier", "license", "description"), d[:6]),
                 **({"contributor": CONTRIBUTORS[d[0]]} if d[0] in CONTRIBUTORS else {}))
            for d in DATASETS]}))
        stamp_tree(seed, out)
    except OSError as e:
        sys.exit("%s: cannot generate the sample in '%s': %s" % (PROG, out, e))
    print("sample: %d datasets, %d files, %d symlinks, %d bytes (%d MiB) in '%s'" % (
        len(DATASETS), platform.files, platform.links, platform.bytes, platform.bytes // MiB, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
