/*
 * The bundled sample platform: a realistic-looking tree of AI training
 * datasets for demos, the packer tests and the benchmarks.
 *
 * Every file draws its bytes from its own PRNG stream keyed by the seed and
 * the file's path, so one file's content never depends on generation order
 * and the same seed always reproduces the same tree, mtimes included.
 * Nothing here may read the clock or use rand().
 */
#define _GNU_SOURCE
#include "sample.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <zlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KIB 1024u
#define MIB (1024u * 1024u)
/* 2026-01-01T00:00:00Z; every mtime lies in the 90 days after it. */
#define SAMPLE_EPOCH 1767225600LL
#define MTIME_SPREAD (90u * 86400u)
#define MARKER_PREFIX "AIDATA-SECURE-PLAINTEXT"
#define JSONL_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define TWO_PI 6.283185307179586
#define PI 3.141592653589793

/* ---- PRNG: splitmix64 seeding xoshiro256** ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void rng_init(struct rng *r, uint64_t seed, const char *label)
{
	uint64_t x = seed;

	x = splitmix64(&x) ^ fnv1a64(label);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, n) by multiply-shift; the bias is far below notice. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_range(struct rng *r, int lo, int hi)
{
	return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static bool rng_chance(struct rng *r, unsigned int percent)
{
	return rng_below(r, 100) < percent;
}

static const char *pick_from(struct rng *r, const char *const *v, size_t n)
{
	return v[rng_below(r, (uint32_t)n)];
}

#define PICK(r, a) pick_from((r), (a), ARRAY_SIZE(a))

/*
 * sin() without libm (the tools do not link it) and bit-identical on every
 * libc: Taylor series to x^11 after reduction to [-pi/2, pi/2], error < 1e-7.
 */
static double fast_sin(double x)
{
	double x2;

	x -= TWO_PI * (double)(int64_t)(x / TWO_PI);
	if (x > PI)
		x -= TWO_PI;
	else if (x < -PI)
		x += TWO_PI;
	if (x > PI / 2)
		x = PI - x;
	else if (x < -PI / 2)
		x = -PI - x;
	x2 = x * x;
	return x * (1 - x2 / 6 *
			    (1 - x2 / 20 *
				     (1 - x2 / 42 *
					      (1 - x2 / 72 * (1 - x2 / 110)))));
}

/* ---- growable output buffers ---- */

/*
 * Sample buffers are uncapped (max SIZE_MAX) and xrealloc never returns
 * NULL, so appends cannot fail and their result is not checked.
 */
static void sb_init(struct buf *b)
{
	buf_init(b, SIZE_MAX);
}

static void sb_add(struct buf *b, const void *p, size_t n)
{
	(void)buf_append(b, p, n);
}

static void sb_puts(struct buf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	(void)buf_reserve(b, 256);
	room = b->alloc - b->len;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		(void)buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void sb_le16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	sb_add(b, p, 2);
}

static void sb_le32(struct buf *b, uint32_t v)
{
	(void)buf_put_le32(b, v);
}

/* NUL-terminated view of a buffer's text, for printf-style consumers. */
static const char *sb_str(struct buf *b)
{
	(void)buf_reserve(b, 1);
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

/* ---- vocabulary ---- */

enum lang { LANG_ZH, LANG_EN };

enum domain_id {
	DOM_LAW,
	DOM_MEDICINE,
	DOM_FINANCE,
	DOM_EDUCATION,
	DOM_NEWS,
	DOM_GOVERNMENT,
	DOM_SCIENCE,
};

struct words {
	const char *const *w;
	size_t n;
};

#define WORDS(a)                                                               \
	{                                                                      \
		(a), ARRAY_SIZE(a)                                             \
	}

/* Sentence parts: subject, verb, object and a tail ('#' becomes a digit). */
struct domain {
	struct words zh[4];
	struct words en[4];
};

static const char *const law_zh_subj[] = {
    "原告",	"被告",	    "上诉人",	"被上诉人",  "本院",
    "公诉机关", "辩护人",   "第三人",	"合议庭",    "申请执行人",
    "被执行人", "代理律师", "一审法院", "仲裁委员会"};
static const char *const law_zh_verb[] = {
    "主张",	"认为", "请求判令", "提交了", "依法审理了", "确认了", "驳回了",
    "部分支持", "承担", "履行",	    "签订了", "违反了",	    "撤销了", "变更了"};
static const char *const law_zh_obj[] = {
    "借款合同",	    "房屋租赁协议", "全部诉讼请求", "相关证据材料",
    "违约责任",	    "逾期利息损失", "房屋买卖合同", "劳动合同",
    "经济补偿金",   "案件受理费",   "股权转让协议", "商标许可合同",
    "保证担保责任", "工程价款",	    "侵权损害赔偿", "一审判决"};
static const char *const law_zh_tail[] = {
    "涉案金额为人民币##.#万元",
    "依照《中华人民共和国民法典》第###条的规定",
    "于20##年#月#日起诉至本院",
    "本案适用简易程序公开开庭进行了审理",
    "上述事实有当事人陈述及书证在案佐证",
    "双方当事人均未提交新证据",
    "本院依法予以确认",
    "对此本院不予采信",
    "应按照年利率#.##%计算逾期利息",
    "该约定不违反法律、行政法规的强制性规定",
    "于判决生效之日起十日内履行完毕"};
static const char *const law_en_subj[] = {
    "the plaintiff",	      "the defendant",	 "the court",
    "the appellant",	      "the respondent",	 "the tribunal",
    "the arbitrator",	      "the prosecution", "the trial judge",
    "counsel for the lessee", "the guarantor",	 "the court of appeal"};
static const char *const law_en_verb[] = {
    "alleged",	"submitted", "dismissed", "affirmed", "breached", "challenged",
    "reviewed", "upheld",    "sought",	  "rejected", "enforced", "terminated"};
static const char *const law_en_obj[] = {"the loan agreement",
					 "the lease contract",
					 "the claim for damages",
					 "the evidence on record",
					 "the limitation defence",
					 "the motion to dismiss",
					 "the arbitration clause",
					 "the employment contract",
					 "the liquidated damages clause",
					 "the costs of the proceedings",
					 "the share transfer agreement",
					 "the first-instance judgment"};
static const char *const law_en_tail[] = {
    "under Article ### of the Civil Code",
    "in the amount of RMB ###,### yuan",
    "on # March 20##",
    "for lack of sufficient evidence",
    "pursuant to the applicable procedural rules",
    "after a public hearing",
    "in accordance with the terms agreed by both parties",
    "within ## days of service of the judgment",
    "with interest at #.#% per annum"};

static const char *const med_zh_subj[] = {
    "患者",   "医生",	  "主治医师", "护士",	"家属",	    "门诊医生",
    "该患者", "儿科医生", "药师",     "影像科", "会诊专家", "责任护士"};
static const char *const med_zh_verb[] = {
    "主诉",   "出现了",	  "建议进行", "诊断为", "服用了", "需要复查",
    "排除了", "密切监测", "调整了",   "缓解了", "否认",	  "完善了"};
static const char *const med_zh_obj[] = {
    "持续性头痛",   "血压升高",	  "空腹血糖",	    "胸部CT检查",
    "阿莫西林胶囊", "二型糖尿病", "咳嗽咳痰",	    "心电图",
    "肝功能指标",   "药物过敏史", "布洛芬缓释胶囊", "血常规",
    "甲状腺功能",   "胃镜检查",	  "腰椎间盘突出",   "社区获得性肺炎"};
static const char *const med_zh_tail[] = {
    "症状已持续#天",	 "体温38.#℃",	       "每日#次，每次#片",
    "血压为1#0/8#mmHg",	 "建议低盐低脂饮食",   "如症状加重请及时就医",
    "两周后门诊复诊",	 "既往无手术史",       "心率8#次/分",
    "空腹血糖#.#mmol/L", "白细胞计数#.#×10⁹/L"};
static const char *const med_en_subj[] = {
    "the patient",	"the physician",   "the attending doctor", "the nurse",
    "the pediatrician", "the pharmacist",  "the radiologist",	   "the family",
    "the consultant",	"the cardiologist"};
static const char *const med_en_verb[] = {
    "reported",	 "developed",	  "was prescribed", "recommended",
    "ruled out", "monitored",	  "presented with", "adjusted",
    "confirmed", "complained of", "denied",	    "ordered"};
static const char *const med_en_obj[] = {"a persistent headache",
					 "elevated blood pressure",
					 "fasting blood glucose",
					 "a chest CT scan",
					 "amoxicillin capsules",
					 "type 2 diabetes",
					 "a productive cough",
					 "an electrocardiogram",
					 "liver function tests",
					 "a history of drug allergies",
					 "ibuprofen",
					 "a complete blood count",
					 "thyroid function tests",
					 "community-acquired pneumonia"};
static const char *const med_en_tail[] = {
    "for # days",
    "with a temperature of 38.# C",
    "twice daily after meals",
    "at a dose of ### mg",
    "and a follow-up visit was scheduled in two weeks",
    "without any known drug allergies",
    "according to the clinical guideline",
    "with a heart rate of 8# beats per minute",
    "with blood pressure of 1#0/8# mmHg"};

static const char *const fin_zh_subj[] = {
    "公司",	"本集团",     "董事会",	  "管理层", "审计机构", "机构投资者",
    "控股股东", "全资子公司", "监管机构", "分析师", "本行",	"监事会"};
static const char *const fin_zh_verb[] = {
    "实现了", "披露了", "计提了",     "拟发行", "完成了", "预计",
    "回购了", "调整了", "审议通过了", "确认了", "优化了", "提高了"};
static const char *const fin_zh_obj[] = {
    "营业收入",		"归属于母公司股东的净利润",
    "资产减值准备",	"公司债券",
    "年度利润分配方案", "经营活动现金流量",
    "应收账款",		"研发投入",
    "综合毛利率",	"可转换公司债券",
    "募集资金投资项目", "不良贷款率",
    "资本充足率",	"存货周转率"};
static const char *const fin_zh_tail[] = {
    "同比增长##.#%",	      "同比下降#.#%",
    "金额为人民币##.##亿元",  "报告期内",
    "截至20##年12月31日",     "每10股派发现金红利#.#元（含税）",
    "符合企业会计准则的规定", "较上年末增加#.##个百分点",
    "占营业收入的比例为#.#%"};
static const char *const fin_en_subj[] = {
    "the company",	   "the group",	    "the board of directors",
    "management",	   "the auditor",   "institutional investors",
    "the subsidiary",	   "the regulator", "analysts",
    "the holding company", "the bank",	    "the audit committee"};
static const char *const fin_en_verb[] = {
    "reported",	 "disclosed", "recognized",  "issued",
    "completed", "forecast",  "repurchased", "revised",
    "approved",	 "recorded",  "reduced",     "raised"};
static const char *const fin_en_obj[] = {
    "operating revenue",
    "net profit attributable to shareholders",
    "impairment provisions",
    "senior unsecured bonds",
    "the annual dividend plan",
    "operating cash flow",
    "accounts receivable",
    "research and development expenses",
    "its gross margin",
    "convertible notes",
    "the non-performing loan ratio",
    "its capital adequacy ratio",
    "inventory turnover",
    "capital expenditure"};
static const char *const fin_en_tail[] = {
    "up ##.#% year on year",
    "down #.#% from the prior year",
    "totalling USD ###.# million",
    "during the reporting period",
    "as of 31 December 20##",
    "in line with IFRS requirements",
    "subject to shareholder approval",
    "by #.## percentage points",
    "amid softer demand in the second half"};

static const char *const edu_zh_subj[] = {
    "学生", "教师", "同学们",	"本章",	    "这篇课文", "作者",
    "老师", "学校", "课程标准", "实验小组", "本单元",	"我们"};
static const char *const edu_zh_verb[] = {
    "学习了", "理解了", "讨论了", "掌握了", "通过实验验证了", "阅读了",
    "分析了", "总结了", "描写了", "复习了", "介绍了",	      "比较了"};
static const char *const edu_zh_obj[] = {
    "一元二次方程",	"光合作用",	    "古诗词的意境", "牛顿第二定律",
    "文章的中心思想",	"化学反应速率",	    "中国近代史",   "函数的单调性",
    "细胞的结构",	"议论文的写作方法", "三角函数",	    "电磁感应现象",
    "地球的自转与公转", "生态系统的稳定性"};
static const char *const edu_zh_tail[] = {"请完成课后练习第#题",
					  "本节共#课时",
					  "注意区分概念之间的联系",
					  "例如：x² - #x + # = 0",
					  "这是本单元的重点和难点",
					  "在日常生活中也有广泛应用",
					  "如图#-#所示",
					  "建议用时##分钟"};
static const char *const edu_en_subj[] = {
    "the students", "the teacher", "this chapter",   "the author",
    "the lesson",   "the class",   "the experiment", "the textbook",
    "each group",   "the reader",  "this unit",	     "we"};
static const char *const edu_en_verb[] = {
    "explained", "introduced",	"demonstrated", "reviewed",
    "explored",	 "compared",	"described",	"summarized",
    "practised", "illustrated", "measured",	"discussed"};
static const char *const edu_en_obj[] = {"quadratic equations",
					 "photosynthesis",
					 "the water cycle",
					 "Newton's second law",
					 "the main idea of the passage",
					 "chemical reaction rates",
					 "the industrial revolution",
					 "the structure of the cell",
					 "persuasive writing",
					 "linear functions",
					 "trigonometric identities",
					 "electromagnetic induction",
					 "the rotation of the Earth",
					 "ecosystem stability"};
static const char *const edu_en_tail[] = {
    "with # worked examples",	   "in Unit #",
    "before the end-of-term exam", "using simple classroom materials",
    "as shown in Figure #.#",	   "through short group activities",
    "in about ## minutes",	   "step by step"};

static const char *const news_zh_subj[] = {
    "记者",   "相关部门",   "专家",   "当地政府", "市民",     "气象台",
    "消费者", "企业负责人", "志愿者", "研究团队", "交通部门", "文旅部门"};
static const char *const news_zh_verb[] = {
    "表示", "发布了", "介绍了", "启动了", "关注",   "报道了",
    "呼吁", "开展了", "回应了", "宣布了", "推出了", "公布了"};
static const char *const news_zh_obj[] = {
    "最新统计数据", "暴雨黄色预警", "新能源汽车销量", "文化旅游活动",
    "城市更新项目", "就业形势",	    "科技创新成果",   "交通管制措施",
    "春运客流",	    "社区养老服务", "夜间经济",	      "校园安全措施",
    "垃圾分类新规", "跨境电商政策"};
static const char *const news_zh_tail[] = {
    "据新华社#月#日电",	      "截至目前",
    "吸引了超过##万人次参与", "预计将于下月正式实施",
    "引发社会广泛关注",	      "记者从有关部门获悉",
    "同比增长##.#%",	      "相关工作正在有序推进"};
static const char *const news_en_subj[] = {"officials",
					   "the ministry",
					   "local residents",
					   "experts",
					   "the weather service",
					   "consumers",
					   "the city council",
					   "researchers",
					   "volunteers",
					   "a company spokesperson",
					   "the transport authority",
					   "tourism operators"};
static const char *const news_en_verb[] = {
    "announced",    "warned of",  "reported",  "launched",
    "welcomed",	    "criticized", "confirmed", "unveiled",
    "responded to", "called for", "published", "postponed"};
static const char *const news_en_obj[] = {"new figures",
					  "a heavy rain warning",
					  "electric vehicle sales",
					  "a cultural festival",
					  "an urban renewal plan",
					  "the job market",
					  "a breakthrough in battery research",
					  "traffic restrictions",
					  "holiday travel demand",
					  "community elderly care",
					  "a night market scheme",
					  "new recycling rules",
					  "cross-border e-commerce rules",
					  "school safety measures"};
static const char *const news_en_tail[] = {
    "on Tuesday",
    "according to a statement released on # May",
    "drawing more than ##,### visitors",
    "amid rising public concern",
    "ahead of next month's deadline",
    "the agency said",
    "up ##.#% on last year",
    "local media reported"};

static const char *const gov_zh_subj[] = {
    "国务院", "市政府", "各级部门", "本办法",	  "主管部门",	"街道办事处",
    "财政局", "本通知", "有关单位", "区人民政府", "市场监管局", "生态环境局"};
static const char *const gov_zh_verb[] = {
    "印发了",	"要求",	  "加强", "规定了", "推进", "落实",
    "组织开展", "公布了", "优化", "部署了", "完善", "规范"};
static const char *const gov_zh_obj[] = {
    "营商环境",	    "政务服务事项", "专项资金管理", "安全生产责任制",
    "基层治理",	    "数据共享机制", "生态环境保护", "公共资源交易",
    "社会保障体系", "应急管理预案", "行政审批流程", "老旧小区改造",
    "农村人居环境", "食品安全监管"};
static const char *const gov_zh_tail[] = {"自发布之日起施行",
					  "请认真贯彻执行",
					  "各地区要结合实际制定实施细则",
					  "（国办发〔20##〕##号）",
					  "确保各项任务落到实处",
					  "现予公布",
					  "于20##年底前完成",
					  "并定期向社会公开进展情况"};
static const char *const gov_en_subj[] = {
    "the state council", "the municipal government", "the department",
    "this regulation",	 "the competent authority",  "the finance bureau",
    "this notice",	 "the agencies concerned",   "the district office",
    "the committee",	 "the market regulator",     "the environment bureau"};
static const char *const gov_en_verb[] = {
    "issued",	   "required",	  "strengthened", "stipulated",
    "promoted",	   "implemented", "organized",	  "published",
    "streamlined", "outlined",	  "revised",	  "approved"};
static const char *const gov_en_obj[] = {
    "the business environment",	  "public service procedures",
    "special fund management",	  "workplace safety responsibilities",
    "grassroots governance",	  "data sharing mechanisms",
    "environmental protection",	  "public procurement",
    "the social security system", "emergency response plans",
    "administrative approval",	  "the renovation of old residential areas",
    "rural living conditions",	  "food safety supervision"};
static const char *const gov_en_tail[] = {
    "with effect from the date of issue",
    "as set out in Document No. ##",
    "by the end of 20##",
    "in all districts and counties",
    "to ensure full implementation",
    "and will report progress to the public every quarter",
    "following a ##-day public consultation"};

static const char *const sci_zh_subj[] = {
    "本研究",	"实验结果", "研究人员", "该模型", "我们",     "数值模拟",
    "观测数据", "该方法",   "对照组",	"样本",	  "理论分析", "本文"};
static const char *const sci_zh_verb[] = {
    "表明了", "提出了", "测量了", "验证了", "揭示了", "分析了",
    "预测了", "改进了", "观察到", "比较了", "估计了", "重现了"};
static const char *const sci_zh_obj[] = {
    "量子纠缠态",     "催化剂的活性",	    "基因表达水平",   "暗物质分布",
    "材料的热导率",   "神经网络的泛化能力", "蛋白质折叠结构", "气候变化趋势",
    "超导转变温度",   "反应动力学参数",	    "引力波信号",     "土壤微生物群落",
    "钙钛矿电池效率", "等离子体不稳定性"};
static const char *const sci_zh_tail[] = {
    "误差小于#.#%", "在###K条件下",	  "相关系数为0.##", "（p < 0.0#）",
    "如图#所示",    "与理论预测基本一致", "样本量为###",    "重复实验#次"};
static const char *const sci_en_subj[] = {"this study",
					  "the results",
					  "the authors",
					  "the model",
					  "we",
					  "the simulation",
					  "the observations",
					  "the proposed method",
					  "the control group",
					  "the samples",
					  "the analysis",
					  "this paper"};
static const char *const sci_en_verb[] = {
    "indicated", "proposed", "measured",  "validated",
    "revealed",	 "analysed", "predicted", "improved",
    "observed",	 "compared", "estimated", "reproduced"};
static const char *const sci_en_obj[] = {
    "quantum entangled states",
    "catalyst activity",
    "gene expression levels",
    "the dark matter distribution",
    "thermal conductivity",
    "generalization in neural networks",
    "protein folding pathways",
    "long-term climate trends",
    "the superconducting transition temperature",
    "reaction kinetics",
    "gravitational-wave signals",
    "soil microbial communities",
    "perovskite cell efficiency",
    "plasma instabilities"};
static const char *const sci_en_tail[] = {
    "with an error below #.#%",
    "at ### K",
    "with a correlation coefficient of 0.##",
    "(p < 0.0#)",
    "as shown in Fig. #",
    "in agreement with theoretical predictions",
    "across ### samples",
    "over # independent runs"};

static const struct domain domains[] = {
    [DOM_LAW] = {{WORDS(law_zh_subj), WORDS(law_zh_verb), WORDS(law_zh_obj),
		  WORDS(law_zh_tail)},
		 {WORDS(law_en_subj), WORDS(law_en_verb), WORDS(law_en_obj),
		  WORDS(law_en_tail)}},
    [DOM_MEDICINE] = {{WORDS(med_zh_subj), WORDS(med_zh_verb),
		       WORDS(med_zh_obj), WORDS(med_zh_tail)},
		      {WORDS(med_en_subj), WORDS(med_en_verb),
		       WORDS(med_en_obj), WORDS(med_en_tail)}},
    [DOM_FINANCE] = {{WORDS(fin_zh_subj), WORDS(fin_zh_verb), WORDS(fin_zh_obj),
		      WORDS(fin_zh_tail)},
		     {WORDS(fin_en_subj), WORDS(fin_en_verb), WORDS(fin_en_obj),
		      WORDS(fin_en_tail)}},
    [DOM_EDUCATION] = {{WORDS(edu_zh_subj), WORDS(edu_zh_verb),
			WORDS(edu_zh_obj), WORDS(edu_zh_tail)},
		       {WORDS(edu_en_subj), WORDS(edu_en_verb),
			WORDS(edu_en_obj), WORDS(edu_en_tail)}},
    [DOM_NEWS] = {{WORDS(news_zh_subj), WORDS(news_zh_verb), WORDS(news_zh_obj),
		   WORDS(news_zh_tail)},
		  {WORDS(news_en_subj), WORDS(news_en_verb), WORDS(news_en_obj),
		   WORDS(news_en_tail)}},
    [DOM_GOVERNMENT] = {{WORDS(gov_zh_subj), WORDS(gov_zh_verb),
			 WORDS(gov_zh_obj), WORDS(gov_zh_tail)},
			{WORDS(gov_en_subj), WORDS(gov_en_verb),
			 WORDS(gov_en_obj), WORDS(gov_en_tail)}},
    [DOM_SCIENCE] = {{WORDS(sci_zh_subj), WORDS(sci_zh_verb), WORDS(sci_zh_obj),
		      WORDS(sci_zh_tail)},
		     {WORDS(sci_en_subj), WORDS(sci_en_verb), WORDS(sci_en_obj),
		      WORDS(sci_en_tail)}},
};

static const char *const zh_connectors[] = {
    "",	      "",	"",	  "",		"同时，", "此外，",
    "因此，", "但是，", "另外，", "与此同时，", "经查，", "值得注意的是，"};
static const char *const en_connectors[] = {"",
					    "",
					    "",
					    "",
					    "Moreover, ",
					    "However, ",
					    "In addition, ",
					    "As a result, ",
					    "Meanwhile, ",
					    "Subsequently, ",
					    "Notably, "};
static const char *const zh_surnames[] = {
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴",
    "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗"};
static const char *const zh_cities[] = {"北京", "上海", "广州", "深圳",
					"杭州", "成都", "武汉", "南京"};
static const char *const zh_firm_names[] = {"华兴", "恒泰", "中科", "远航",
					    "鼎盛", "融信", "海川", "天成",
					    "金桥", "瑞丰"};
static const char *const zh_firm_trades[] = {"科技", "医药", "能源", "物流",
					     "建设", "食品", "电子", "新材料"};
static const char *const zh_firm_kinds[] = {"股份有限公司", "有限公司",
					    "集团股份有限公司"};
static const char *const en_firm_names[] = {
    "Northwind", "Bluestone", "Redwood",    "Silverline",  "Harbor",
    "Summit",	 "Evergreen", "Ironbridge", "Brightwater", "Crescent"};
static const char *const en_firm_trades[] = {
    "Technologies", "Pharmaceuticals", "Energy",      "Logistics",
    "Materials",    "Foods",	       "Electronics", "Capital"};
static const char *const en_firm_kinds[] = {"Holdings Ltd.", "Inc.",
					    "Group plc", "Co., Ltd."};

/* Append s, turning each '#' into a digit; a digit run never starts at 0. */
static void put_pattern(struct rng *r, struct buf *b, const char *s)
{
	bool after_digit = false;

	for (; *s; s++) {
		char c = *s;

		if (c == '#')
			c = (char)('0' + (after_digit ? rng_below(r, 10)
						      : 1 + rng_below(r, 9)));
		after_digit = c >= '0' && c <= '9';
		sb_add(b, &c, 1);
	}
}

static const char *pick_word(struct rng *r, const struct words *w)
{
	return pick_from(r, w->w, w->n);
}

static void sentence(struct rng *r, enum domain_id dom, enum lang lang,
		     struct buf *b)
{
	const struct domain *d = &domains[dom];

	if (lang == LANG_ZH) {
		sb_puts(b, PICK(r, zh_connectors));
		sb_puts(b, pick_word(r, &d->zh[0]));
		sb_puts(b, pick_word(r, &d->zh[1]));
		sb_puts(b, pick_word(r, &d->zh[2]));
		if (rng_chance(r, 60)) {
			sb_puts(b, "，");
			put_pattern(r, b, pick_word(r, &d->zh[3]));
		}
		sb_puts(b, "。");
	} else {
		const char *conn = PICK(r, en_connectors);
		size_t start;

		sb_puts(b, conn);
		start = b->len;
		sb_puts(b, pick_word(r, &d->en[0]));
		if (!*conn && b->data[start] >= 'a' && b->data[start] <= 'z')
			b->data[start] -= 'a' - 'A';
		sb_puts(b, " ");
		sb_puts(b, pick_word(r, &d->en[1]));
		sb_puts(b, " ");
		sb_puts(b, pick_word(r, &d->en[2]));
		if (rng_chance(r, 60)) {
			sb_puts(b, " ");
			put_pattern(r, b, pick_word(r, &d->en[3]));
		}
		sb_puts(b, ".");
	}
}

/* A headline: one clause, no final punctuation. */
static void headline(struct rng *r, enum domain_id dom, enum lang lang,
		     struct buf *b)
{
	const struct domain *d = &domains[dom];
	size_t start = b->len;

	if (lang == LANG_ZH) {
		sb_puts(b, pick_word(r, &d->zh[0]));
		sb_puts(b, pick_word(r, &d->zh[1]));
		sb_puts(b, pick_word(r, &d->zh[2]));
		return;
	}
	sb_puts(b, pick_word(r, &d->en[0]));
	sb_puts(b, " ");
	sb_puts(b, pick_word(r, &d->en[1]));
	sb_puts(b, " ");
	sb_puts(b, pick_word(r, &d->en[2]));
	if (b->data[start] >= 'a' && b->data[start] <= 'z')
		b->data[start] -= 'a' - 'A';
}

static void zh_company(struct rng *r, struct buf *b)
{
	sb_puts(b, PICK(r, zh_cities));
	sb_puts(b, PICK(r, zh_firm_names));
	sb_puts(b, PICK(r, zh_firm_trades));
	sb_puts(b, PICK(r, zh_firm_kinds));
}

static void en_company(struct rng *r, struct buf *b)
{
	sb_printf(b, "%s %s %s", PICK(r, en_firm_names),
		  PICK(r, en_firm_trades), PICK(r, en_firm_kinds));
}

/* ---- generator state ---- */

struct gen {
	const char *root;
	uint64_t seed;
	unsigned long files;
	unsigned long links;
	uint64_t bytes;
	/* the legal-news shard both law-judgments-zh and news-crawl carry */
	struct buf shared_news;
	unsigned long shared_news_records;
};

struct dataset;

/* One dataset being generated. */
struct ds {
	struct gen *g;
	const struct dataset *info;
	bool secure;
	unsigned long marker; /* last canary number used */
	unsigned long files;
	uint64_t bytes;
};

struct dataset {
	const char *name;
	const char *industry;
	const char *modality;
	const char *tier;
	const char *license;
	const char *description;
	int (*build)(struct ds *d);
};

static void ds_rng(struct ds *d, struct rng *r, const char *rel)
{
	char *label = xasprintf("%s/%s", d->info->name, rel);

	rng_init(r, d->g->seed, label);
	free(label);
}

/*
 * Append the next canary of a secure dataset. Only secure datasets may
 * carry the prefix at all: tests grep for it to spot leaked plaintext.
 */
static void put_marker(struct ds *d, struct buf *b)
{
	if (!d->secure)
		return;
	sb_printf(b, MARKER_PREFIX "-%s-%lu", d->info->name, ++d->marker);
}

/*
 * A paragraph of n_min..n_max sentences. In a secure dataset it opens with
 * a canary; paragraphs stay well under 4 KiB so canaries stay dense.
 */
static void paragraph(struct ds *d, struct rng *r, enum domain_id dom,
		      enum lang lang, int n_min, int n_max, struct buf *b)
{
	int n = rng_range(r, n_min, n_max);

	if (d->secure) {
		sb_puts(b, lang == LANG_ZH ? "【" : "[");
		put_marker(d, b);
		sb_puts(b, lang == LANG_ZH ? "】" : "] ");
	}
	for (int i = 0; i < n; i++) {
		if (lang == LANG_EN && i > 0)
			sb_puts(b, " ");
		sentence(r, dom, lang, b);
	}
}

static int write_path(struct gen *g, const char *path, const void *p, size_t n)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd = -1, rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		rc = fs_mkdir_p(dir, 0755);
		if (rc) {
			log_error("cannot create directory '%s': %s", dir,
				  strerror(-rc));
			goto out;
		}
	}
	/* O_EXCL: a name written twice is a generator bug, not an update. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		log_error("cannot create '%s': %s", path, strerror(-rc));
		goto out;
	}
	rc = fs_write_all(fd, p, n);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc) {
		log_error("cannot write '%s': %s", path, strerror(-rc));
		goto out;
	}
	g->files++;
	g->bytes += n;
out:
	free(dir);
	return rc;
}

static int ds_write(struct ds *d, const char *rel, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s/%s", d->g->root, d->info->name, rel);
	int rc = write_path(d->g, path, p, n);

	if (!rc) {
		d->files++;
		d->bytes += n;
	}
	free(path);
	return rc;
}

static int ds_write_buf(struct ds *d, const char *rel, const struct buf *b)
{
	return ds_write(d, rel, b->data, b->len);
}

static int ds_symlink(struct ds *d, const char *rel, const char *target)
{
	char *path = xasprintf("%s/%s/%s", d->g->root, d->info->name, rel);
	int rc = 0;

	if (symlink(target, path) != 0) {
		rc = -errno;
		log_error("cannot create symlink '%s': %s", path,
			  strerror(-rc));
	} else {
		d->g->links++;
	}
	free(path);
	return rc;
}

/* Append obj as one compact JSON line and drop the reference. */
static int jsonl_put(struct buf *b, json_t *obj)
{
	char *s;

	if (!obj)
		return -ENOMEM;
	s = json_dumps(obj, JSONL_FLAGS);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	sb_puts(b, s);
	sb_puts(b, "\n");
	free(s);
	return 0;
}

/* Write obj pretty-printed (UTF-8 kept, not \u-escaped) plus a newline. */
static int json_put_pretty(struct buf *b, json_t *obj)
{
	char *s;

	if (!obj)
		return -ENOMEM;
	s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	sb_puts(b, s);
	sb_puts(b, "\n");
	free(s);
	return 0;
}

/*
 * gzip with a fixed header (mtime 0, OS unix, no name) so the bytes depend
 * only on the input; gzopen would do the same but wants a file.
 */
static int gzip_buf(const void *in, size_t n, struct buf *out)
{
	z_stream zs;
	gz_header hdr;
	uLong bound;
	int zrc, rc = 0;

	memset(&zs, 0, sizeof(zs));
	memset(&hdr, 0, sizeof(hdr));
	hdr.os = 3;
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -ENOMEM;
	if (deflateSetHeader(&zs, &hdr) != Z_OK) {
		rc = -EINVAL;
		goto out;
	}
	bound = deflateBound(&zs, (uLong)n);
	(void)buf_reserve(out, bound);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out->data + out->len;
	zs.avail_out = (uInt)bound;
	zrc = deflate(&zs, Z_FINISH);
	if (zrc != Z_STREAM_END) {
		log_error("cannot gzip %zu bytes: zlib error %d", n, zrc);
		rc = -EIO;
		goto out;
	}
	out->len += zs.total_out;
out:
	deflateEnd(&zs);
	return rc;
}

/* ---- jsonl shards ---- */

/* Append one record for the given id to out. 0 or -errno. */
typedef int (*record_fn)(struct ds *d, struct rng *r, enum lang lang,
			 const char *id, struct buf *out);

struct shard {
	const char *rel;       /* path inside the dataset */
	const char *id_prefix; /* record ids are <prefix>-<n> */
	enum lang lang;
	size_t target; /* stop once the JSON text reaches this size */
};

/* Append records drawn from r until the text reaches s->target bytes. */
static int make_records(struct ds *d, struct rng *r, const struct shard *s,
			record_fn fn, struct buf *out, unsigned long *count)
{
	unsigned long n = 0;
	int rc = 0;

	while (out->len < s->target) {
		char id[96];

		snprintf(id, sizeof(id), "%s-%06lu", s->id_prefix, n);
		rc = fn(d, r, s->lang, id, out);
		if (rc)
			return rc;
		n++;
	}
	*count += n;
	return 0;
}

/* A jsonl shard; gzipped when its name ends in .gz. */
static int write_shard(struct ds *d, const struct shard *s, record_fn fn,
		       unsigned long *count)
{
	struct buf text, gz;
	size_t len = strlen(s->rel);
	struct rng r;
	int rc;

	sb_init(&text);
	sb_init(&gz);
	ds_rng(d, &r, s->rel);
	rc = make_records(d, &r, s, fn, &text, count);
	if (rc)
		goto out;
	if (len > 3 && !strcmp(s->rel + len - 3, ".gz")) {
		rc = gzip_buf(text.data, text.len, &gz);
		if (!rc)
			rc = ds_write_buf(d, s->rel, &gz);
	} else {
		rc = ds_write_buf(d, s->rel, &text);
	}
out:
	buf_release(&text);
	buf_release(&gz);
	return rc;
}

/* ---- README, LICENSE ---- */

static const char cc_by_license[] =
    "Attribution 4.0 International (CC BY 4.0)\n"
    "\n"
    "This dataset is made available under the Creative Commons Attribution "
    "4.0\n"
    "International Public License. The full legal code is at\n"
    "https://creativecommons.org/licenses/by/4.0/legalcode\n"
    "\n"
    "You are free to:\n"
    "\n"
    "  Share - copy and redistribute the material in any medium or "
    "format.\n"
    "  Adapt - remix, transform, and build upon the material for any "
    "purpose,\n"
    "          even commercially.\n"
    "\n"
    "Under the following terms:\n"
    "\n"
    "  Attribution - You must give appropriate credit, provide a link to "
    "the\n"
    "  license, and indicate if changes were made. You may do so in any\n"
    "  reasonable manner, but not in any way that suggests the licensor\n"
    "  endorses you or your use.\n"
    "\n"
    "  No additional restrictions - You may not apply legal terms or\n"
    "  technological measures that legally restrict others from doing\n"
    "  anything the license permits.\n"
    "\n"
    "Notices:\n"
    "\n"
    "  You do not have to comply with the license for elements of the\n"
    "  material in the public domain or where your use is permitted by an\n"
    "  applicable exception or limitation. No warranties are given.\n"
    "\n"
    "Copyright (c) 2025 The AIData Sample Platform contributors.\n";

static int write_license(struct ds *d)
{
	return ds_write(d, "LICENSE", cc_by_license, sizeof(cc_by_license) - 1);
}

/*
 * README.md: a common header, then the dataset's own body (blank-line
 * separated paragraphs). Secure datasets get a canary after every
 * paragraph so even the README shows up in a plaintext-leak grep.
 */
static int write_readme(struct ds *d, const char *body)
{
	const struct dataset *i = d->info;
	struct buf text, out;
	const char *p, *end;
	int rc;

	sb_init(&text);
	sb_init(&out);
	sb_printf(&text,
		  "# %s\n\n%s\n\n"
		  "| field | value |\n"
		  "| --- | --- |\n"
		  "| industry | %s |\n"
		  "| modality | %s |\n"
		  "| tier | %s |\n"
		  "| license | %s |\n\n%s",
		  i->name, i->description, i->industry, i->modality, i->tier,
		  i->license, body);
	if (!d->secure) {
		rc = ds_write_buf(d, "README.md", &text);
		goto out;
	}
	p = sb_str(&text);
	while (*p) {
		end = strstr(p, "\n\n");
		end = end ? end + 2 : p + strlen(p);
		sb_add(&out, p, (size_t)(end - p));
		while (out.len < 2 || memcmp(out.data + out.len - 2, "\n\n", 2))
			sb_puts(&out, "\n");
		sb_puts(&out, "Canary: `");
		put_marker(d, &out);
		sb_puts(&out, "`\n\n");
		p = end;
	}
	rc = ds_write_buf(d, "README.md", &out);
out:
	buf_release(&text);
	buf_release(&out);
	return rc;
}

/* ---- images ---- */

struct image {
	int w, h;
	uint8_t *px; /* RGB, row-major */
};

static void img_init(struct image *im, int w, int h)
{
	im->w = w;
	im->h = h;
	im->px = xcalloc((size_t)w * (size_t)h, 3);
}

static void img_free(struct image *im)
{
	free(im->px);
	im->px = NULL;
}

static uint8_t clamp_u8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

static void img_set(struct image *im, int x, int y, const uint8_t c[3])
{
	uint8_t *p;

	if (x < 0 || y < 0 || x >= im->w || y >= im->h)
		return;
	p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
	p[0] = c[0];
	p[1] = c[1];
	p[2] = c[2];
}

static void random_color(struct rng *r, uint8_t c[3], int lo, int hi)
{
	for (int i = 0; i < 3; i++)
		c[i] = (uint8_t)rng_range(r, lo, hi);
}

/* Linear blend from a to b along direction (dx, dy). */
static void img_gradient(struct image *im, const uint8_t a[3],
			 const uint8_t b[3], int dx, int dy)
{
	int lo = 0, hi = 0;
	int corners[4] = {0, dx * (im->w - 1), dy * (im->h - 1),
			  dx * (im->w - 1) + dy * (im->h - 1)};

	for (int i = 0; i < 4; i++) {
		lo = corners[i] < lo ? corners[i] : lo;
		hi = corners[i] > hi ? corners[i] : hi;
	}
	if (hi == lo)
		hi = lo + 1;
	for (int y = 0; y < im->h; y++) {
		for (int x = 0; x < im->w; x++) {
			int t = (dx * x + dy * y - lo) * 256 / (hi - lo);
			uint8_t c[3];

			for (int k = 0; k < 3; k++)
				c[k] =
				    (uint8_t)((a[k] * (256 - t) + b[k] * t) >>
					      8);
			img_set(im, x, y, c);
		}
	}
}

static void img_rect(struct image *im, int x0, int y0, int x1, int y1,
		     const uint8_t c[3])
{
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			img_set(im, x, y, c);
}

/* Disc of radius rad; with ring > 0 only the outer ring of that width. */
static void img_disc(struct image *im, int cx, int cy, int rad, int ring,
		     const uint8_t c[3])
{
	int inner = ring > 0 ? (rad - ring) * (rad - ring) : -1;

	for (int y = cy - rad; y <= cy + rad; y++) {
		for (int x = cx - rad; x <= cx + rad; x++) {
			int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);

			if (d2 <= rad * rad && d2 > inner)
				img_set(im, x, y, c);
		}
	}
}

static void img_line(struct image *im, int x0, int y0, int x1, int y1,
		     int width, const uint8_t c[3])
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0);
	int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
	int err = dx + dy, e2;

	for (;;) {
		for (int k = 0; k < width; k++)
			img_set(im, x0, y0 + k, c);
		if (x0 == x1 && y0 == y1)
			break;
		e2 = 2 * err;
		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

/* Per-pixel grain of +-amp: makes JPEGs realistically incompressible. */
static void img_noise(struct image *im, struct rng *r, int amp)
{
	size_t n = (size_t)im->w * (size_t)im->h * 3;

	for (size_t i = 0; i < n; i += 3) {
		uint64_t v = rng_next(r);
		int g = (int)(v & 0xff) * (2 * amp + 1) / 256 - amp;

		for (int k = 0; k < 3; k++) {
			int c = (int)((v >> (8 + 8 * k)) & 0xff) * 5 / 256 - 2;

			im->px[i + k] = clamp_u8(im->px[i + k] + g + c);
		}
	}
}

struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
};

/* libjpeg's default error_exit calls exit(); unwind to the caller. */
static void jpeg_error_exit(j_common_ptr c)
{
	struct jpeg_fail *f = (struct jpeg_fail *)c->err;
	char msg[JMSG_LENGTH_MAX];

	c->err->format_message(c, msg);
	log_error("cannot encode jpeg: %s", msg);
	longjmp(f->jb, 1);
}

/* Lives in one struct so nothing setjmp cares about sits in a register. */
struct jpeg_job {
	struct jpeg_compress_struct c;
	struct jpeg_fail fail;
	unsigned char *mem;
	unsigned long mem_len;
};

static int encode_jpeg(const struct image *im, int quality, struct buf *out)
{
	struct jpeg_job *j = xcalloc(1, sizeof(*j));
	int rc = 0;

	j->c.err = jpeg_std_error(&j->fail.mgr);
	j->fail.mgr.error_exit = jpeg_error_exit;
	if (setjmp(j->fail.jb)) {
		rc = -EIO;
		goto out;
	}
	jpeg_create_compress(&j->c);
	jpeg_mem_dest(&j->c, &j->mem, &j->mem_len);
	j->c.image_width = (JDIMENSION)im->w;
	j->c.image_height = (JDIMENSION)im->h;
	j->c.input_components = 3;
	j->c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&j->c);
	jpeg_set_quality(&j->c, quality, TRUE);
	jpeg_start_compress(&j->c, TRUE);
	while (j->c.next_scanline < j->c.image_height) {
		JSAMPROW row =
		    im->px + (size_t)j->c.next_scanline * (size_t)im->w * 3;

		jpeg_write_scanlines(&j->c, &row, 1);
	}
	jpeg_finish_compress(&j->c);
	sb_add(out, j->mem, j->mem_len);
out:
	jpeg_destroy_compress(&j->c);
	free(j->mem);
	free(j);
	return rc;
}

static void png_write_cb(png_structp p, png_bytep data, png_size_t n)
{
	sb_add(png_get_io_ptr(p), data, n);
}

static void png_flush_cb(png_structp p)
{
	(void)p;
}

static int encode_png(const struct image *im, struct buf *out)
{
	png_structp p;
	png_infop info;

	p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!p)
		return -ENOMEM;
	info = png_create_info_struct(p);
	if (!info) {
		png_destroy_write_struct(&p, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(p))) {
		log_error("cannot encode png of %dx%d", im->w, im->h);
		png_destroy_write_struct(&p, &info);
		return -EIO;
	}
	png_set_write_fn(p, out, png_write_cb, png_flush_cb);
	png_set_IHDR(p, info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
		     PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (int y = 0; y < im->h; y++)
		png_write_row(p, im->px + (size_t)y * (size_t)im->w * 3);
	png_write_end(p, NULL);
	png_destroy_write_struct(&p, &info);
	return 0;
}

/* ---- tar (POSIX ustar) ---- */

static void tar_octal(uint8_t *field, size_t width, uint64_t v)
{
	char tmp[24];

	/* width - 1 digits and a NUL, as ustar readers expect */
	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)(width - 1), v);
	memcpy(field, tmp, width);
}

static void tar_add(struct buf *t, const char *name, const void *p, size_t n,
		    int64_t mtime)
{
	static const uint8_t zeros[512];
	uint8_t h[512];
	unsigned int sum = 0;
	char chk[8];

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	tar_octal(h + 100, 8, 0644);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	tar_octal(h + 124, 12, n);
	tar_octal(h + 136, 12, (uint64_t)mtime);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "aidata", 6);
	memcpy(h + 297, "aidata", 6);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf(chk, sizeof(chk), "%06o", sum);
	memcpy(h + 148, chk, 7); /* six digits, NUL, and the space stays */
	sb_add(t, h, sizeof(h));
	sb_add(t, p, n);
	if (n % 512)
		sb_add(t, zeros, 512 - n % 512);
}

static void tar_finish(struct buf *t)
{
	static const uint8_t zeros[1024];

	sb_add(t, zeros, sizeof(zeros));
}

/* ---- WAV ---- */

/*
 * Canonical RIFF/WAVE, 16-bit PCM mono; an optional LIST/INFO comment
 * (the secure dataset's canary) sits before the data chunk.
 */
static void wav_header(struct buf *b, uint32_t rate, uint32_t data_bytes,
		       const char *comment)
{
	size_t clen = comment ? strlen(comment) + 1 : 0;
	size_t cpad = clen + (clen & 1);
	uint32_t list = comment ? (uint32_t)(4 + 8 + cpad) : 0;

	sb_puts(b, "RIFF");
	sb_le32(b, 4 + (8 + 16) + (list ? 8 + list : 0) + 8 + data_bytes);
	sb_puts(b, "WAVEfmt ");
	sb_le32(b, 16);
	sb_le16(b, 1); /* PCM */
	sb_le16(b, 1); /* mono */
	sb_le32(b, rate);
	sb_le32(b, rate * 2);
	sb_le16(b, 2);
	sb_le16(b, 16);
	if (comment) {
		sb_puts(b, "LIST");
		sb_le32(b, list);
		sb_puts(b, "INFOICMT");
		sb_le32(b, (uint32_t)clen);
		sb_add(b, comment, clen);
		if (cpad != clen)
			sb_add(b, "", 1);
	}
	sb_puts(b, "data");
	sb_le32(b, data_bytes);
}

static void put_sample(uint8_t *out, size_t i, double v)
{
	int s = (int)(v * 32767.0);

	s = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
	out[2 * i] = (uint8_t)(s & 0xff);
	out[2 * i + 1] = (uint8_t)((s >> 8) & 0xff);
}

/*
 * Courtroom-like audio: a calibration sweep, then voiced "syllables"
 * (gliding harmonics under a sine envelope) and pauses over a noise floor.
 */
static void synth_speech(struct rng *r, uint8_t *out, size_t n, uint32_t rate)
{
	size_t sweep = n < 2 * (size_t)rate ? n : 2 * (size_t)rate;
	double phase = 0;
	size_t i = 0;

	for (; i < sweep; i++) {
		double f = 300.0 + 3100.0 * (double)i / (double)sweep;

		phase += TWO_PI * f / rate;
		if (phase >= TWO_PI)
			phase -= TWO_PI;
		put_sample(out, i,
			   0.35 * fast_sin(phase) + 0.01 * (rng_unit(r) - 0.5));
	}
	while (i < n) {
		size_t len;
		double f0, f1, noise = 0.004 + 0.01 * rng_unit(r);

		if (rng_chance(r, 18)) {
			len = (size_t)rng_range(r, 3, 12) * rate / 16;
			for (size_t k = 0; k < len && i < n; k++, i++)
				put_sample(out, i, noise * (rng_unit(r) - 0.5));
			continue;
		}
		len = (size_t)rng_range(r, 2, 6) * rate / 16;
		f0 = rng_range(r, 95, 260);
		f1 = f0 * (0.75 + 0.5 * rng_unit(r));
		for (size_t k = 0; k < len && i < n; k++, i++) {
			double t = (double)k / (double)len;
			double env = fast_sin(PI * t);
			double v = 0;

			phase += TWO_PI * (f0 + (f1 - f0) * t) / rate;
			if (phase >= TWO_PI)
				phase -= TWO_PI;
			for (int h = 1; h <= 4; h++)
				v += fast_sin(phase * h) / h;
			put_sample(out, i,
				   0.22 * env * v +
				       noise * (rng_unit(r) - 0.5));
		}
	}
}

/* ---- dataset: law-judgments-zh ---- */

static const char *const zh_courts[] = {
    "北京市海淀区人民法院", "上海市浦东新区人民法院", "广州市天河区人民法院",
    "深圳市南山区人民法院", "杭州市西湖区人民法院",   "成都市武侯区人民法院"};
static const char *const zh_court_codes[] = {"京0108", "沪0115", "粤0106",
					     "粤0305", "浙0106", "川0107"};

static int rec_judgment_zh(struct ds *d, struct rng *r, enum lang lang,
			   const char *id, struct buf *out)
{
	static const char *const kinds[] = {"民事", "刑事", "行政"};
	static const char *const codes[] = {"民初", "刑初", "行初"};
	int c = (int)rng_below(r, ARRAY_SIZE(zh_courts));
	int k = (int)rng_below(r, ARRAY_SIZE(kinds));
	int year = rng_range(r, 2016, 2024);
	struct buf t;
	char case_no[96];
	int rc;

	sb_init(&t);
	snprintf(case_no, sizeof(case_no), "（%d）%s%s%d号", year,
		 zh_court_codes[c], codes[k], rng_range(r, 100, 39999));
	sb_printf(&t, "%s\n%s判决书\n%s\n", zh_courts[c], kinds[k], case_no);
	sb_printf(&t, "原告：%s某，%s，%d年生，住%s市。\n",
		  PICK(r, zh_surnames), rng_chance(r, 50) ? "男" : "女",
		  rng_range(r, 1955, 2000), PICK(r, zh_cities));
	sb_puts(&t, "被告：");
	zh_company(r, &t);
	sb_puts(&t, "。\n");
	sb_puts(&t, "原告向本院提出诉讼请求：");
	paragraph(d, r, DOM_LAW, lang, 2, 4, &t);
	sb_puts(&t, "\n本院经审理认定事实如下：");
	paragraph(d, r, DOM_LAW, lang, 3, 7, &t);
	sb_puts(&t, "\n本院认为，");
	paragraph(d, r, DOM_LAW, lang, 3, 6, &t);
	sb_printf(&t,
		  "\n综上，依照《中华人民共和国民法典》第%d条、《中华人民共和国"
		  "民事诉讼法》第%d条之规定，判决如下：\n"
		  "一、被告于本判决生效之日起十日内支付原告人民币%d元；\n"
		  "二、驳回原告的其他诉讼请求。\n"
		  "案件受理费%d元，由被告负担。\n"
		  "审判员　%s某某\n%d年%d月%d日\n",
		  rng_range(r, 464, 1260), rng_range(r, 67, 157),
		  rng_range(r, 5000, 2000000), rng_range(r, 50, 20000),
		  PICK(r, zh_surnames), year, rng_range(r, 1, 12),
		  rng_range(r, 1, 28));
	rc = jsonl_put(out,
		       json_pack("{s:s, s:s%, s:s, s:s, s:{s:s, s:s, s:s, "
				 "s:i}}",
				 "id", id, "text", (const char *)t.data, t.len,
				 "source", "court-judgments", "lang", "zh",
				 "meta", "court", zh_courts[c], "case_no",
				 case_no, "case_type", kinds[k], "year", year));
	buf_release(&t);
	return rc;
}

static int rec_judgment_en(struct ds *d, struct rng *r, enum lang lang,
			   const char *id, struct buf *out)
{
	static const char *const courts[] = {
	    "Beijing Haidian District People's Court",
	    "Shanghai Pudong New Area People's Court",
	    "Guangzhou Tianhe District People's Court",
	    "Shenzhen Nanshan District People's Court"};
	int year = rng_range(r, 2016, 2024);
	const char *court = PICK(r, courts);
	struct buf t;
	int rc;

	sb_init(&t);
	sb_printf(&t, "%s\nCase No. %d-CV-%05d\n", court, year,
		  rng_range(r, 100, 39999));
	en_company(r, &t);
	sb_puts(&t, " v. ");
	en_company(r, &t);
	sb_puts(&t, "\nJUDGMENT (English summary)\n\n");
	for (int p = rng_range(r, 3, 5); p > 0; p--) {
		paragraph(d, r, DOM_LAW, lang, 3, 6, &t);
		sb_puts(&t, "\n\n");
	}
	sb_printf(&t, "Judgment entered on %d %s %d.", rng_range(r, 1, 28),
		  rng_chance(r, 50) ? "June" : "November", year);
	rc = jsonl_put(out,
		       json_pack("{s:s, s:s%, s:s, s:s, s:{s:s, s:i}}", "id",
				 id, "text", (const char *)t.data, t.len,
				 "source", "court-judgments-en", "lang", "en",
				 "meta", "court", court, "year", year));
	buf_release(&t);
	return rc;
}

/* Legal news from the crawl: the shard law-judgments-zh and news-crawl
 * share byte for byte. */
static int rec_legal_news(struct ds *d, struct rng *r, enum lang lang,
			  const char *id, struct buf *out)
{
	int y = rng_range(r, 2021, 2025), m = rng_range(r, 1, 12),
	    day = rng_range(r, 1, 28);
	char url[128], date[16];
	struct buf t;
	int rc;

	sb_init(&t);
	headline(r, DOM_LAW, lang, &t);
	sb_puts(&t, "\n");
	sb_printf(&t, "本报讯（记者 %s某）", PICK(r, zh_surnames));
	for (int p = rng_range(r, 2, 4); p > 0; p--) {
		paragraph(d, r, p % 2 ? DOM_LAW : DOM_NEWS, lang, 2, 5, &t);
		sb_puts(&t, "\n");
	}
	snprintf(url, sizeof(url),
		 "https://news.example.cn/legal/%04d/%02d/%02d/%06u.html", y, m,
		 day, rng_below(r, 1000000));
	snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m, day);
	rc = jsonl_put(out, json_pack("{s:s, s:s%, s:s, s:s, s:s, s:s}", "id",
				      id, "text", (const char *)t.data, t.len,
				      "source", "news-crawl", "lang", "zh",
				      "url", url, "date", date));
	buf_release(&t);
	return rc;
}

/* Build the shared legal-news shard once; both datasets write its bytes. */
static int shared_news_gz(struct ds *d, const struct buf **out,
			  unsigned long *records)
{
	static const struct shard s = {"shared/legal-news", "crawl-legal-zh",
				       LANG_ZH, 11 * MIB};
	struct gen *g = d->g;
	struct buf text;
	struct rng r;
	int rc = 0;

	if (!g->shared_news.len) {
		/* shared content must never carry a secure canary */
		if (d->secure)
			return -EINVAL;
		sb_init(&text);
		/* keyed by the platform, not by whichever dataset asks first */
		rng_init(&r, g->seed, "shared/legal-news");
		rc = make_records(d, &r, &s, rec_legal_news, &text,
				  &g->shared_news_records);
		if (!rc)
			rc = gzip_buf(text.data, text.len, &g->shared_news);
		buf_release(&text);
		if (rc)
			return rc;
	}
	*out = &g->shared_news;
	*records += g->shared_news_records;
	return 0;
}

static int build_law(struct ds *d)
{
	static const struct shard shards[] = {
	    {"zh/rank_00000.jsonl.gz", "law-zh-00000", LANG_ZH, 8 * MIB},
	    {"zh/rank_00001.jsonl.gz", "law-zh-00001", LANG_ZH, 7 * MIB},
	    {"en/rank_00000.jsonl.gz", "law-en-00000", LANG_EN, 6 * MIB},
	};
	const struct buf *news;
	unsigned long zh = 0, en = 0, crawl = 0;
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i],
				 shards[i].lang == LANG_ZH ? rec_judgment_zh
							   : rec_judgment_en,
				 shards[i].lang == LANG_ZH ? &zh : &en);
		if (rc)
			return rc;
	}
	rc = shared_news_gz(d, &news, &crawl);
	if (!rc)
		rc = ds_write_buf(d, "zh/rank_00002.jsonl.gz", news);
	if (!rc)
		rc = write_license(d);
	if (rc)
		return rc;
	body = xasprintf(
	    "## Layout\n\n"
	    "- `zh/rank_0000{0,1}.jsonl.gz`: %lu Chinese judgments, one "
	    "JSON object per line (`id`, `text`, `source`, `lang`, "
	    "`meta`).\n"
	    "- `zh/rank_00002.jsonl.gz`: %lu legal news articles filtered "
	    "from news-crawl; identical to `news-crawl/zh/"
	    "rank_00003.jsonl.gz`.\n"
	    "- `en/rank_00000.jsonl.gz`: %lu English case summaries.\n\n"
	    "## 说明\n\n"
	    "本数据集收录经过脱敏处理的中国法院裁判文书，涵盖民事、刑事和行政"
	    "案件。当事人姓名已替换为“某”，可用于法律领域大模型的预训练与"
	    "评测。\n",
	    zh, crawl, en);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: court-hearings-audio (secure) ---- */

struct hearing {
	const char *slug;
	const char *court;
	int seconds;
};

static const struct hearing hearings[] = {
    {"beijing-haidian", "北京市海淀区人民法院", 190},
    {"beijing-haidian", "北京市海淀区人民法院", 38},
    {"shanghai-pudong", "上海市浦东新区人民法院", 96},
    {"shanghai-pudong", "上海市浦东新区人民法院", 300},
    {"guangzhou-tianhe", "广州市天河区人民法院", 27},
    {"guangzhou-tianhe", "广州市天河区人民法院", 64},
};

static int hearing_transcript(struct ds *d, struct rng *r,
			      const struct hearing *h, const char *id,
			      struct buf *out)
{
	static const char *const speakers[] = {"审判长", "原告代理人",
					       "被告代理人", "书记员", "证人"};
	json_t *segs = json_array();
	int ms = 2000, total = h->seconds * 1000;
	struct buf t, m;
	int rc;

	sb_init(&t);
	sb_init(&m);
	while (ms < total && segs) {
		int len = rng_range(r, 3000, 14000);

		if (ms + len > total)
			len = total - ms;
		buf_reset(&t);
		paragraph(d, r, DOM_LAW, LANG_ZH, 1, 3, &t);
		json_array_append_new(
		    segs,
		    json_pack("{s:i, s:i, s:s, s:s%}", "start_ms", ms, "end_ms",
			      ms + len, "speaker", PICK(r, speakers), "text",
			      (const char *)t.data, t.len));
		ms += len + rng_range(r, 200, 1500);
	}
	put_marker(d, &m);
	rc = json_put_pretty(
	    out, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s%, s:o}", "id", id,
			   "court", h->court, "language", "zh-CN",
			   "sample_rate", 16000, "duration_ms", total, "canary",
			   (const char *)m.data, m.len, "segments", segs));
	buf_release(&t);
	buf_release(&m);
	return rc;
}

static int build_court(struct ds *d)
{
	const uint32_t rate = 16000;
	struct buf meta, wav, side, canary;
	size_t total = 0;
	char *body;
	int rc = 0;

	sb_init(&meta);
	sb_init(&wav);
	sb_init(&side);
	sb_init(&canary);
	for (size_t i = 0; i < ARRAY_SIZE(hearings); i++) {
		const struct hearing *h = &hearings[i];
		size_t n = (size_t)h->seconds * rate;
		char id[32], rel[160], json_rel[160];
		struct rng r;

		snprintf(id, sizeof(id), "hearing_%04zu", i + 1);
		snprintf(rel, sizeof(rel), "hearings/2025/%s/%s.wav", h->slug,
			 id);
		snprintf(json_rel, sizeof(json_rel), "hearings/2025/%s/%s.json",
			 h->slug, id);
		ds_rng(d, &r, rel);
		buf_reset(&wav);
		buf_reset(&canary);
		put_marker(d, &canary);
		sb_printf(&canary, " %s", id);
		wav_header(&wav, rate, (uint32_t)(n * 2), sb_str(&canary));
		(void)buf_reserve(&wav, n * 2);
		synth_speech(&r, wav.data + wav.len, n, rate);
		wav.len += n * 2;
		rc = ds_write_buf(d, rel, &wav);
		if (rc)
			goto out;
		total += (size_t)h->seconds;

		ds_rng(d, &r, json_rel);
		buf_reset(&side);
		rc = hearing_transcript(d, &r, h, id, &side);
		if (!rc)
			rc = ds_write_buf(d, json_rel, &side);
		if (rc)
			goto out;

		buf_reset(&canary);
		put_marker(d, &canary);
		rc = jsonl_put(
		    &meta, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, "
				     "s:s%}",
				     "id", id, "audio", rel, "transcript",
				     json_rel, "court", h->court, "duration_ms",
				     h->seconds * 1000, "sample_rate",
				     (int)rate, "channels", 1, "canary",
				     (const char *)canary.data, canary.len));
		if (rc)
			goto out;
	}
	rc = ds_write_buf(d, "metadata.jsonl", &meta);
	if (rc)
		goto out;
	body = xasprintf(
	    "## Layout\n\n"
	    "- `hearings/2025/<court>/hearing_NNNN.wav`: 16 kHz mono "
	    "16-bit PCM recordings, %zu hearings, %zu seconds in all.\n"
	    "- `hearings/2025/<court>/hearing_NNNN.json`: time-aligned "
	    "transcript segments (`start_ms`, `end_ms`, `speaker`, "
	    "`text`).\n"
	    "- `metadata.jsonl`: one line per hearing.\n\n"
	    "## Access\n\n"
	    "Secure tier: recordings of closed hearings. Content is "
	    "encrypted at rest and only decrypted for approved training "
	    "jobs.\n\n"
	    "## 说明\n\n"
	    "庭审录音及转写文本，仅限授权项目在安全环境中使用。\n",
	    ARRAY_SIZE(hearings), total);
	rc = write_readme(d, body);
	free(body);
out:
	buf_release(&meta);
	buf_release(&wav);
	buf_release(&side);
	buf_release(&canary);
	return rc;
}

/* ---- dataset: medical-dialogue (secure) ---- */

static const char *const med_departments_zh[] = {
    "内科",   "儿科",	"心内科", "内分泌科",
    "呼吸科", "消化科", "皮肤科", "神经内科"};
static const char *const med_departments_en[] = {
    "internal medicine", "pediatrics",	     "cardiology",  "endocrinology",
    "pulmonology",	 "gastroenterology", "dermatology", "neurology"};

static int rec_med_dialogue(struct ds *d, struct rng *r, enum lang lang,
			    const char *id, struct buf *out)
{
	uint32_t dep = rng_below(r, ARRAY_SIZE(med_departments_zh));
	struct buf ins, in, o;
	int rc;

	sb_init(&ins);
	sb_init(&in);
	sb_init(&o);
	if (lang == LANG_ZH) {
		sb_printf(&ins,
			  "你是一名经验丰富的%s医生，请根据患者的描述给出初步"
			  "判断和就医建议。",
			  med_departments_zh[dep]);
		sb_puts(&in, "患者：医生您好，");
		paragraph(d, r, DOM_MEDICINE, lang, 2, 4, &in);
		sb_puts(&o, "医生：您好，");
		paragraph(d, r, DOM_MEDICINE, lang, 3, 6, &o);
		sb_puts(&o, "\n");
		paragraph(d, r, DOM_MEDICINE, lang, 2, 4, &o);
	} else {
		sb_printf(&ins,
			  "You are an experienced %s physician. Read the "
			  "patient's description and give a preliminary "
			  "assessment and advice.",
			  med_departments_en[dep]);
		sb_puts(&in, "Patient: ");
		paragraph(d, r, DOM_MEDICINE, lang, 2, 4, &in);
		sb_puts(&o, "Doctor: ");
		paragraph(d, r, DOM_MEDICINE, lang, 3, 6, &o);
		sb_puts(&o, "\n");
		paragraph(d, r, DOM_MEDICINE, lang, 2, 4, &o);
	}
	rc = jsonl_put(out,
		       json_pack("{s:s, s:s%, s:s%, s:s%, s:s, s:s}", "id", id,
				 "instruction", (const char *)ins.data, ins.len,
				 "input", (const char *)in.data, in.len,
				 "output", (const char *)o.data, o.len, "lang",
				 lang == LANG_ZH ? "zh" : "en", "department",
				 med_departments_en[dep]));
	buf_release(&ins);
	buf_release(&in);
	buf_release(&o);
	return rc;
}

static int build_medical(struct ds *d)
{
	static const struct shard shards[] = {
	    {"zh/train.jsonl", "meddlg-zh-train", LANG_ZH, 2 * MIB},
	    {"zh/valid.jsonl", "meddlg-zh-valid", LANG_ZH, 256 * KIB},
	    {"en/train.jsonl", "meddlg-en-train", LANG_EN, 1536 * KIB},
	};
	unsigned long n[3] = {0, 0, 0};
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i], rec_med_dialogue, &n[i]);
		if (rc)
			return rc;
	}
	body = xasprintf(
	    "## Layout\n\n"
	    "- `zh/train.jsonl` (%lu dialogues), `zh/valid.jsonl` (%lu): "
	    "Chinese doctor-patient consultations.\n"
	    "- `en/train.jsonl` (%lu): English consultations.\n\n"
	    "Each line has `instruction`, `input` (the patient), `output` "
	    "(the doctor), `lang` and `department`.\n\n"
	    "## Access\n\n"
	    "Secure tier: derived from real consultations after "
	    "de-identification. Use only inside the secure enclave; never "
	    "copy records into prompts, logs or issue trackers.\n\n"
	    "## 说明\n\n"
	    "医患问诊对话指令数据，已脱敏，仅限安全区内使用。\n",
	    n[0], n[1], n[2]);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: finance-reports ---- */

static void fin_number_line(struct rng *r, struct buf *t, const char *label)
{
	sb_printf(t, "%s: USD %d.%d million (%s%d.%d%% year on year)\n", label,
		  rng_range(r, 20, 9800), rng_range(r, 0, 9),
		  rng_chance(r, 70) ? "+" : "-", rng_range(r, 0, 35),
		  rng_range(r, 0, 9));
}

static int rec_annual_en(struct ds *d, struct rng *r, enum lang lang,
			 const char *id, struct buf *out)
{
	int year = rng_range(r, 2019, 2024);
	char ticker[8], period[16];
	struct buf t, co;
	int rc;

	sb_init(&t);
	sb_init(&co);
	en_company(r, &co);
	for (int i = 0; i < 4; i++)
		ticker[i] = (char)('A' + rng_below(r, 26));
	ticker[4] = '\0';
	snprintf(period, sizeof(period), "FY%d", year);
	sb_printf(&t, "%s Annual Report %d\n\nChairman's Statement\n",
		  sb_str(&co), year);
	paragraph(d, r, DOM_FINANCE, lang, 4, 7, &t);
	sb_puts(&t, "\n\nManagement Discussion and Analysis\n");
	for (int p = rng_range(r, 2, 4); p > 0; p--) {
		paragraph(d, r, DOM_FINANCE, lang, 3, 6, &t);
		sb_puts(&t, "\n\n");
	}
	sb_puts(&t, "Financial Highlights\n");
	fin_number_line(r, &t, "Revenue");
	fin_number_line(r, &t, "Operating profit");
	fin_number_line(r, &t, "Net profit attributable to shareholders");
	sb_printf(&t, "Basic earnings per share: USD %d.%02d\n",
		  rng_range(r, 0, 12), rng_range(r, 0, 99));
	sb_puts(&t, "\nRisk Factors\n");
	paragraph(d, r, DOM_FINANCE, lang, 2, 5, &t);
	rc = jsonl_put(out,
		       json_pack("{s:s, s:s%, s:s, s:s, s:s%, s:s, s:s}", "id",
				 id, "text", (const char *)t.data, t.len,
				 "source", "annual-report", "lang", "en",
				 "company", (const char *)co.data, co.len,
				 "ticker", ticker, "period", period));
	buf_release(&t);
	buf_release(&co);
	return rc;
}

static int rec_quarterly_zh(struct ds *d, struct rng *r, enum lang lang,
			    const char *id, struct buf *out)
{
	static const char *const quarters[] = {"一", "二", "三"};
	uint32_t q = rng_below(r, ARRAY_SIZE(quarters));
	char code[8], period[16];
	struct buf t, co;
	int rc;

	sb_init(&t);
	sb_init(&co);
	zh_company(r, &co);
	snprintf(code, sizeof(code), "%s%04u", rng_chance(r, 50) ? "60" : "00",
		 rng_below(r, 10000));
	snprintf(period, sizeof(period), "2025Q%u", q + 1);
	sb_printf(&t, "%s 2025年第%s季度报告\n\n一、主要财务数据\n",
		  sb_str(&co), quarters[q]);
	sb_printf(&t, "营业收入：%d.%02d亿元，同比%s%d.%d%%\n",
		  rng_range(r, 1, 900), rng_range(r, 0, 99),
		  rng_chance(r, 65) ? "增长" : "下降", rng_range(r, 0, 40),
		  rng_range(r, 0, 9));
	sb_printf(&t, "归属于上市公司股东的净利润：%d.%02d亿元\n",
		  rng_range(r, 0, 120), rng_range(r, 0, 99));
	sb_printf(&t, "基本每股收益：%d.%02d元\n\n二、经营情况讨论与分析\n",
		  rng_range(r, 0, 5), rng_range(r, 0, 99));
	paragraph(d, r, DOM_FINANCE, lang, 4, 8, &t);
	sb_puts(&t, "\n\n三、重要事项\n");
	paragraph(d, r, DOM_FINANCE, lang, 2, 5, &t);
	rc = jsonl_put(out,
		       json_pack("{s:s, s:s%, s:s, s:s, s:s%, s:s, s:s}", "id",
				 id, "text", (const char *)t.data, t.len,
				 "source", "quarterly-report", "lang", "zh",
				 "company", (const char *)co.data, co.len,
				 "ticker", code, "period", period));
	buf_release(&t);
	buf_release(&co);
	return rc;
}

static int write_income_csv(struct ds *d, unsigned long *rows)
{
	struct buf t;
	struct rng r;
	int rc;

	sb_init(&t);
	ds_rng(d, &r, "tables/income_statements.csv");
	sb_puts(&t, "ticker,company,fiscal_year,revenue_musd,net_income_musd,"
		    "eps_usd,total_assets_musd\n");
	while (t.len < 600 * KIB) {
		char ticker[5];

		for (int i = 0; i < 4; i++)
			ticker[i] = (char)('A' + rng_below(&r, 26));
		ticker[4] = '\0';
		sb_printf(&t, "%s,\"", ticker);
		en_company(&r, &t);
		sb_printf(&t, "\",%d,%d.%d,%d.%d,%d.%02d,%d.%d\n",
			  rng_range(&r, 2015, 2024), rng_range(&r, 10, 99999),
			  rng_range(&r, 0, 9), rng_range(&r, -500, 9999),
			  rng_range(&r, 0, 9), rng_range(&r, 0, 25),
			  rng_range(&r, 0, 99), rng_range(&r, 50, 999999),
			  rng_range(&r, 0, 9));
		(*rows)++;
	}
	rc = ds_write_buf(d, "tables/income_statements.csv", &t);
	buf_release(&t);
	return rc;
}

static int build_finance_reports(struct ds *d)
{
	static const struct shard shards[] = {
	    /* the one file over 12 MiB: spans several 4 MiB chunks */
	    {"filings/2024/annual/reports_en.jsonl", "finrep-en-2024", LANG_EN,
	     13 * MIB},
	    {"filings/2025/q1/sse/reports_zh.jsonl", "finrep-zh-2025q1-sse",
	     LANG_ZH, 1 * MIB},
	    {"filings/2025/q1/szse/reports_zh.jsonl", "finrep-zh-2025q1-szse",
	     LANG_ZH, 768 * KIB},
	    {"filings/2025/q2/sse/reports_zh.jsonl", "finrep-zh-2025q2-sse",
	     LANG_ZH, 1 * MIB},
	    {"filings/2025/q3/sse/reports_zh.jsonl", "finrep-zh-2025q3-sse",
	     LANG_ZH, 640 * KIB},
	};
	unsigned long en = 0, zh = 0, rows = 0;
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i],
				 shards[i].lang == LANG_EN ? rec_annual_en
							   : rec_quarterly_zh,
				 shards[i].lang == LANG_EN ? &en : &zh);
		if (rc)
			return rc;
	}
	rc = write_income_csv(d, &rows);
	if (rc)
		return rc;
	body = xasprintf(
	    "## Layout\n\n"
	    "- `filings/2024/annual/reports_en.jsonl`: %lu English annual "
	    "reports (the largest file of the platform, over 12 MiB).\n"
	    "- `filings/2025/q<N>/<exchange>/reports_zh.jsonl`: %lu "
	    "Chinese quarterly reports by quarter and exchange.\n"
	    "- `tables/income_statements.csv`: %lu rows of structured "
	    "income-statement figures.\n\n"
	    "## Access\n\n"
	    "Shared tier: available to partner institutions under the "
	    "data-sharing agreement; redistribution is not permitted.\n",
	    en, zh, rows);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: finance-instruct ---- */

static int rec_fin_instruct(struct ds *d, struct rng *r, enum lang lang,
			    const char *id, struct buf *out)
{
	static const char *const ins_zh[] = {
	    "请根据以下财报摘要，概括公司的经营情况。",
	    "判断下列说法是否正确，并说明理由。",
	    "请用通俗的语言解释以下财务指标的含义。",
	    "根据材料，分析公司未来一年可能面临的主要风险。"};
	static const char *const ins_en[] = {
	    "Summarize the company's performance from the report excerpt "
	    "below.",
	    "Decide whether the statement is correct and explain why.",
	    "Explain the following financial metric in plain language.",
	    "Based on the material, list the main risks for the coming "
	    "year."};
	struct buf in, o;
	int rc;

	sb_init(&in);
	sb_init(&o);
	paragraph(d, r, DOM_FINANCE, lang, 1, 3, &in);
	paragraph(d, r, DOM_FINANCE, lang, 2, 5, &o);
	rc = jsonl_put(
	    out,
	    json_pack("{s:s, s:s, s:s%, s:s%, s:s}", "id", id, "instruction",
		      lang == LANG_ZH ? PICK(r, ins_zh) : PICK(r, ins_en),
		      "input", (const char *)in.data, in.len, "output",
		      (const char *)o.data, o.len, "lang",
		      lang == LANG_ZH ? "zh" : "en"));
	buf_release(&in);
	buf_release(&o);
	return rc;
}

static int build_finance_instruct(struct ds *d)
{
	static const struct shard shards[] = {
	    {"zh/train.jsonl", "fininst-zh-train", LANG_ZH, 1536 * KIB},
	    {"zh/test.jsonl", "fininst-zh-test", LANG_ZH, 192 * KIB},
	    {"en/train.jsonl", "fininst-en-train", LANG_EN, 1 * MIB},
	};
	unsigned long n[3] = {0, 0, 0};
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i], rec_fin_instruct, &n[i]);
		if (rc)
			return rc;
	}
	body = xasprintf(
	    "## Layout\n\n"
	    "- `zh/train.jsonl` (%lu), `zh/test.jsonl` (%lu): Chinese "
	    "financial analysis instructions.\n"
	    "- `en/train.jsonl` (%lu): English instructions.\n\n"
	    "Each line is `{\"id\", \"instruction\", \"input\", "
	    "\"output\", \"lang\"}` in the Alpaca style.\n",
	    n[0], n[1], n[2]);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: edu-textbooks ---- */

static int rec_textbook(struct ds *d, struct rng *r, enum lang lang,
			const char *id, struct buf *out)
{
	static const char *const subjects[] = {
	    "chinese", "math", "physics", "chemistry", "biology", "history"};
	const struct domain *dom = &domains[DOM_EDUCATION];
	int ch = rng_range(r, 1, 12);
	struct buf t;
	int rc;

	sb_init(&t);
	if (lang == LANG_ZH)
		sb_printf(&t, "第%d章 %s\n\n", ch, pick_word(r, &dom->zh[2]));
	else
		sb_printf(&t, "Chapter %d: %s\n\n", ch,
			  pick_word(r, &dom->en[2]));
	for (int p = rng_range(r, 3, 6); p > 0; p--) {
		paragraph(d, r, DOM_EDUCATION, lang, 3, 7, &t);
		sb_puts(&t, "\n\n");
	}
	sb_puts(&t, lang == LANG_ZH ? "练习\n" : "Exercises\n");
	for (int q = 1; q <= 3; q++) {
		sb_printf(&t, "%d. ", q);
		sentence(r, DOM_EDUCATION, lang, &t);
		sb_puts(&t, "\n");
	}
	rc = jsonl_put(out, json_pack("{s:s, s:s%, s:s, s:s, s:s, s:i}", "id",
				      id, "text", (const char *)t.data, t.len,
				      "source", "textbook", "lang",
				      lang == LANG_ZH ? "zh" : "en", "subject",
				      PICK(r, subjects), "chapter", ch));
	buf_release(&t);
	return rc;
}

static int build_edu_textbooks(struct ds *d)
{
	static const struct shard shards[] = {
	    {"chinese/high/rank_00000.jsonl", "edu-zh-high-0", LANG_ZH,
	     2 * MIB},
	    {"chinese/high/rank_00001.jsonl", "edu-zh-high-1", LANG_ZH,
	     2 * MIB},
	    {"chinese/middle/rank_00000.jsonl", "edu-zh-middle-0", LANG_ZH,
	     2 * MIB},
	    {"chinese/primary/rank_00000.jsonl", "edu-zh-primary-0", LANG_ZH,
	     1 * MIB},
	    {"english/high/rank_00000.jsonl", "edu-en-high-0", LANG_EN,
	     2 * MIB},
	    {"english/middle/rank_00000.jsonl", "edu-en-middle-0", LANG_EN,
	     1 * MIB},
	};
	unsigned long zh = 0, en = 0;
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i], rec_textbook,
				 shards[i].lang == LANG_ZH ? &zh : &en);
		if (rc)
			return rc;
	}
	rc = write_license(d);
	if (rc)
		return rc;
	body = xasprintf(
	    "## Layout\n\n"
	    "Plain jsonl (not compressed), grouped by language and school "
	    "level:\n\n"
	    "- `chinese/{high,middle,primary}/rank_NNNNN.jsonl`: %lu "
	    "Chinese textbook chapters.\n"
	    "- `english/{high,middle}/rank_NNNNN.jsonl`: %lu English "
	    "chapters.\n\n"
	    "## 说明\n\n"
	    "中小学教材章节文本，按学段划分，适合教育领域模型的继续预训练。\n",
	    zh, en);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: edu-lecture-video ---- */

/*
 * One frame of a lecture: the slide comes from a copy of the clip's layout
 * stream so it stays put; only the pointer, the background and the grain
 * change between frames.
 */
static void lecture_frame(struct image *im, struct rng *r,
			  const struct rng *clip_layout, int frame, int frames)
{
	uint8_t a[3], b[3], white[3] = {245, 245, 240}, ink[3] = {40, 40, 60},
			    dot[3] = {220, 40, 40};
	struct rng layout = *clip_layout;
	int sx = im->w / 8, sy = im->h / 6, sw = im->w * 5 / 8;

	random_color(&layout, a, 20, 120);
	random_color(&layout, b, 60, 200);
	img_gradient(im, a, b, 3, 1 + frame % 3);
	img_rect(im, sx, sy, sx + sw, sy + im->h * 2 / 3, white);
	for (int y = sy + 8; y < sy + im->h * 2 / 3 - 6; y += 9) {
		int x = sx + 8,
		    end = sx + 8 + rng_range(&layout, sw / 3, sw - 16);

		while (x < end) {
			int wlen = rng_range(&layout, 6, 20);

			img_rect(im, x, y, x + wlen < end ? x + wlen : end,
				 y + 4, ink);
			x += wlen + 4;
		}
	}
	img_disc(im, sx + (sw * frame) / (frames > 1 ? frames - 1 : 1),
		 sy + im->h / 3 + (frame % 7) * 2, 5, 0, dot);
	img_noise(im, r, 6);
}

static int build_edu_video(struct ds *d)
{
	static const int clip_frames[] = {36, 24, 48, 30, 40, 28, 44, 32};
	struct buf meta, jpg, vtt, cap;
	int frames_total = 0, rc = 0;
	char *body;

	sb_init(&meta);
	sb_init(&jpg);
	sb_init(&vtt);
	sb_init(&cap);
	for (size_t c = 0; c < ARRAY_SIZE(clip_frames); c++) {
		int frames = clip_frames[c], fps = 12;
		enum lang lang = c % 2 ? LANG_EN : LANG_ZH;
		char dir[64], rel[128];
		struct rng r, layout;
		struct image im;

		snprintf(dir, sizeof(dir), "clips/clip_%04zu", c + 1);
		ds_rng(d, &layout, dir);
		img_init(&im, 256, 144);
		for (int f = 1; f <= frames; f++) {
			snprintf(rel, sizeof(rel), "%s/frame_%05d.jpg", dir, f);
			ds_rng(d, &r, rel);
			lecture_frame(&im, &r, &layout, f - 1, frames);
			buf_reset(&jpg);
			rc = encode_jpeg(&im, 82, &jpg);
			if (!rc)
				rc = ds_write_buf(d, rel, &jpg);
			if (rc)
				break;
		}
		img_free(&im);
		if (rc)
			goto out;
		frames_total += frames;

		snprintf(rel, sizeof(rel), "captions/clip_%04zu.%s.vtt", c + 1,
			 lang == LANG_ZH ? "zh" : "en");
		ds_rng(d, &r, rel);
		buf_reset(&vtt);
		sb_puts(&vtt, "WEBVTT\n\n");
		for (int ms = 0; ms < frames * 1000 / fps; ms += 2000) {
			sb_printf(&vtt, "00:00:%02d.%03d --> 00:00:%02d.%03d\n",
				  ms / 1000, ms % 1000, (ms + 2000) / 1000,
				  (ms + 2000) % 1000);
			sentence(&r, DOM_EDUCATION, lang, &vtt);
			sb_puts(&vtt, "\n\n");
		}
		rc = ds_write_buf(d, rel, &vtt);
		if (rc)
			goto out;

		buf_reset(&cap);
		if (lang == LANG_ZH)
			sb_printf(&cap, "第%zu讲：", c + 1);
		else
			sb_printf(&cap, "Lecture %zu: ", c + 1);
		headline(&r, DOM_EDUCATION, lang, &cap);
		rc = jsonl_put(
		    &meta,
		    json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, "
			      "s:i, s:s%, s:s}",
			      "clip_id", dir + 6, "frames_dir", dir, "captions",
			      rel, "frames", frames, "fps", fps, "width", 256,
			      "height", 144, "duration_ms", frames * 1000 / fps,
			      "title", (const char *)cap.data, cap.len, "lang",
			      lang == LANG_ZH ? "zh" : "en"));
		if (rc)
			goto out;
	}
	rc = ds_write_buf(d, "metadata.jsonl", &meta);
	if (rc)
		goto out;
	body =
	    xasprintf("## Layout\n\n"
		      "- `clips/clip_NNNN/frame_NNNNN.jpg`: %zu lecture clips "
		      "decoded to 256x144 JPEG frames at 12 fps (%d frames).\n"
		      "- `captions/clip_NNNN.<lang>.vtt`: WebVTT subtitles.\n"
		      "- `metadata.jsonl`: one line per clip.\n\n"
		      "## Access\n\n"
		      "Shared tier: lecture recordings licensed to partner "
		      "universities for non-commercial research.\n",
		      ARRAY_SIZE(clip_frames), frames_total);
	rc = write_readme(d, body);
	free(body);
out:
	buf_release(&meta);
	buf_release(&jpg);
	buf_release(&vtt);
	buf_release(&cap);
	return rc;
}

/* ---- dataset: news-crawl ---- */

static int rec_news(struct ds *d, struct rng *r, enum lang lang, const char *id,
		    struct buf *out)
{
	int y = rng_range(r, 2022, 2025), m = rng_range(r, 1, 12),
	    day = rng_range(r, 1, 28);
	char url[128], date[16];
	struct buf t;
	int rc;

	sb_init(&t);
	headline(r, DOM_NEWS, lang, &t);
	sb_puts(&t, "\n\n");
	for (int p = rng_range(r, 3, 6); p > 0; p--) {
		paragraph(d, r, p % 3 ? DOM_NEWS : DOM_GOVERNMENT, lang, 2, 5,
			  &t);
		sb_puts(&t, "\n\n");
	}
	if (lang == LANG_ZH)
		snprintf(url, sizeof(url),
			 "https://news.example.cn/%04d/%02d/%02d/%06u.html", y,
			 m, day, rng_below(r, 1000000));
	else
		snprintf(url, sizeof(url),
			 "https://www.example-news.com/%04d/%02d/%02d/"
			 "story-%06u",
			 y, m, day, rng_below(r, 1000000));
	snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m, day);
	rc = jsonl_put(out, json_pack("{s:s, s:s%, s:s, s:s, s:s, s:s}", "id",
				      id, "text", (const char *)t.data, t.len,
				      "source", "news-crawl", "lang",
				      lang == LANG_ZH ? "zh" : "en", "url", url,
				      "date", date));
	buf_release(&t);
	return rc;
}

static int build_news(struct ds *d)
{
	static const struct shard shards[] = {
	    {"zh/rank_00000.jsonl.gz", "news-zh-00000", LANG_ZH, 8 * MIB},
	    {"zh/rank_00001.jsonl.gz", "news-zh-00001", LANG_ZH, 6 * MIB},
	    {"en/rank_00000.jsonl.gz", "news-en-00000", LANG_EN, 8 * MIB},
	    {"en/rank_00001.jsonl.gz", "news-en-00001", LANG_EN, 5 * MIB},
	};
	const struct buf *news;
	unsigned long zh = 0, en = 0, crawl = 0;
	char *body;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(shards); i++) {
		rc = write_shard(d, &shards[i], rec_news,
				 shards[i].lang == LANG_ZH ? &zh : &en);
		if (rc)
			return rc;
	}
	rc = shared_news_gz(d, &news, &crawl);
	if (!rc)
		rc = ds_write_buf(d, "zh/rank_00003.jsonl.gz", news);
	/* rank 2 lost every record to dedup: kept, empty, as crawls do */
	if (!rc)
		rc = ds_write(d, "en/rank_00002.jsonl", "", 0);
	if (!rc)
		rc = write_license(d);
	if (rc)
		return rc;
	body = xasprintf(
	    "## Layout\n\n"
	    "- `zh/rank_NNNNN.jsonl.gz`: %lu Chinese news articles; "
	    "`zh/rank_00003.jsonl.gz` is the legal subset (%lu articles), "
	    "also shipped as `law-judgments-zh/zh/rank_00002.jsonl.gz`.\n"
	    "- `en/rank_NNNNN.jsonl.gz`: %lu English articles. "
	    "`en/rank_00002.jsonl` is empty: every record in it was a "
	    "near-duplicate.\n\n"
	    "Fields: `id`, `text`, `source`, `lang`, `url`, `date`.\n",
	    zh + crawl, crawl, en);
	rc = write_readme(d, body);
	free(body);
	return rc;
}

/* ---- dataset: gov-images ---- */

static void scanned_notice(struct image *im, struct rng *r)
{
	uint8_t paper[3], ink[3], red[3] = {200, 30, 35};
	int m = im->w / 10, title_w = im->w / 2;

	paper[0] = (uint8_t)rng_range(r, 232, 248);
	paper[1] = (uint8_t)(paper[0] - rng_range(r, 0, 8));
	paper[2] = (uint8_t)(paper[0] - rng_range(r, 6, 20));
	random_color(r, ink, 30, 70);
	img_rect(im, 0, 0, im->w, im->h, paper);
	img_rect(im, (im->w - title_w) / 2, m, (im->w + title_w) / 2, m + 7,
		 red);
	img_rect(im, m, m + 14, im->w - m, m + 15, red);
	for (int y = m + 24; y < im->h - m; y += 10) {
		int x = m + (rng_chance(r, 30) ? 12 : 0);
		int end = rng_chance(r, 20) ? rng_range(r, im->w / 3, im->w - m)
					    : im->w - m;

		while (x < end) {
			int wlen = rng_range(r, 5, 18);

			img_rect(im, x, y, x + wlen < end ? x + wlen : end,
				 y + 5, ink);
			x += wlen + 3;
		}
	}
	img_disc(im, im->w - m - 26, im->h - m - 26, 24, 3, red);
	img_disc(im, im->w - m - 26, im->h - m - 26, 6, 0, red);
	img_noise(im, r, 14);
}

/* Administrative map: nearest-seed regions in pastel with dark borders. */
static void region_map(struct image *im, struct rng *r)
{
	enum { SEEDS = 9 };
	int sx[SEEDS], sy[SEEDS];
	uint8_t col[SEEDS][3], border[3] = {70, 70, 80},
			       road[3] = {230, 150, 40};

	for (int i = 0; i < SEEDS; i++) {
		sx[i] = rng_range(r, 0, im->w - 1);
		sy[i] = rng_range(r, 0, im->h - 1);
		random_color(r, col[i], 150, 235);
	}
	for (int y = 0; y < im->h; y++) {
		for (int x = 0; x < im->w; x++) {
			int best = 0, d1 = 1 << 30, d2 = 1 << 30;

			for (int i = 0; i < SEEDS; i++) {
				int dd = (x - sx[i]) * (x - sx[i]) +
					 (y - sy[i]) * (y - sy[i]);

				if (dd < d1) {
					d2 = d1;
					d1 = dd;
					best = i;
				} else if (dd < d2) {
					d2 = dd;
				}
			}
			img_set(im, x, y,
				d2 - d1 < 2 * (im->w / 16 + 8) ? border
							       : col[best]);
		}
	}
	for (int k = 0; k < 3; k++)
		img_line(im, rng_range(r, 0, im->w - 1), 0,
			 rng_range(r, 0, im->w - 1), im->h - 1, 2, road);
}

static int gov_sample(struct rng *r, unsigned int key_n, struct buf *tar)
{
	static const char *const doc_types[] = {"notice", "regulation",
						"announcement", "map"};
	enum lang lang = key_n % 3 == 1 ? LANG_EN : LANG_ZH;
	bool is_map = rng_chance(r, 20);
	int w = rng_range(r, 160, 256),
	    h = is_map ? rng_range(r, 128, 256) : rng_range(r, 200, 256);
	int64_t mtime = SAMPLE_EPOCH + (int64_t)rng_below(r, MTIME_SPREAD);
	const char *doc = is_map ? "map" : doc_types[rng_below(r, 3)];
	struct buf img, cap, js;
	struct image im;
	char name[64], key[16];
	int rc;

	sb_init(&img);
	sb_init(&cap);
	sb_init(&js);
	snprintf(key, sizeof(key), "%09u", key_n);
	img_init(&im, w, h);
	if (is_map) {
		region_map(&im, r);
		rc = encode_png(&im, &img);
	} else {
		scanned_notice(&im, r);
		rc = encode_jpeg(&im, 85, &img);
	}
	img_free(&im);
	if (rc)
		goto out;
	if (lang == LANG_ZH) {
		sb_puts(&cap, is_map ? "行政区划示意图：" : "政府公文扫描件：");
		headline(r, DOM_GOVERNMENT, lang, &cap);
		sb_puts(&cap, "。");
	} else {
		sb_puts(&cap, is_map ? "Administrative map: "
				     : "Scanned government document: ");
		headline(r, DOM_GOVERNMENT, lang, &cap);
		sb_puts(&cap, ".");
	}
	rc = json_put_pretty(
	    &js,
	    json_pack("{s:s, s:s%, s:s, s:s, s:i, s:i, s:i}", "key", key,
		      "caption", (const char *)cap.data, cap.len, "lang",
		      lang == LANG_ZH ? "zh" : "en", "doc_type", doc, "year",
		      rng_range(r, 2010, 2025), "width", w, "height", h));
	if (rc)
		goto out;
	snprintf(name, sizeof(name), "%s.%s", key, is_map ? "png" : "jpg");
	tar_add(tar, name, img.data, img.len, mtime);
	snprintf(name, sizeof(name), "%s.txt", key);
	sb_puts(&cap, "\n");
	tar_add(tar, name, cap.data, cap.len, mtime);
	snprintf(name, sizeof(name), "%s.json", key);
	tar_add(tar, name, js.data, js.len, mtime);
out:
	buf_release(&img);
	buf_release(&cap);
	buf_release(&js);
	return rc;
}

static int build_gov_images(struct ds *d)
{
	/* shard 2 was withdrawn after review; numbering keeps the gap */
	static const unsigned int shard_ids[] = {0, 1, 3};
	const unsigned int per_shard = 220;
	struct buf tar, idx;
	char *body;
	int rc = 0;

	sb_init(&tar);
	sb_init(&idx);
	for (size_t s = 0; s < ARRAY_SIZE(shard_ids); s++) {
		char rel[64];
		struct rng r;

		snprintf(rel, sizeof(rel), "shard-%06u.tar", shard_ids[s]);
		ds_rng(d, &r, rel);
		buf_reset(&tar);
		for (unsigned int k = 0; k < per_shard && !rc; k++)
			rc = gov_sample(&r, shard_ids[s] * per_shard + k, &tar);
		if (rc)
			goto out;
		tar_finish(&tar);
		rc = ds_write_buf(d, rel, &tar);
		if (rc)
			goto out;
		rc = jsonl_put(&idx, json_pack("{s:s, s:i, s:I}", "shard", rel,
					       "samples", (int)per_shard,
					       "bytes", (json_int_t)tar.len));
		if (rc)
			goto out;
	}
	rc = ds_write_buf(d, "shards.jsonl", &idx);
	if (!rc)
		rc = ds_symlink(d, "latest.tar", "shard-000003.tar");
	if (rc)
		goto out;
	body = xasprintf(
	    "## Layout\n\n"
	    "WebDataset shards: `shard-000000.tar`, `shard-000001.tar`, "
	    "`shard-000003.tar` (shard 2 was withdrawn; the numbering "
	    "keeps the gap), %u samples each. Every sample `<key>` has "
	    "`<key>.jpg` (scanned document) or `<key>.png` (map), plus "
	    "`<key>.txt` (caption) and `<key>.json` (metadata).\n\n"
	    "`latest.tar` is a relative symlink to the newest shard. "
	    "`shards.jsonl` indexes the shards.\n\n"
	    "## Access\n\n"
	    "Shared tier: scans provided by local governments for "
	    "document-understanding research.\n",
	    per_shard);
	rc = write_readme(d, body);
	free(body);
out:
	buf_release(&tar);
	buf_release(&idx);
	return rc;
}

/* ---- dataset: science-figures ---- */

static void science_chart(struct image *im, struct rng *r, int kind)
{
	uint8_t white[3] = {255, 255, 255}, grid[3] = {225, 225, 225},
		axis[3] = {0, 0, 0};
	static const uint8_t palette[4][3] = {
	    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}};
	int l = 18, b = im->h - 14, top = 8, right = im->w - 8;
	int series = rng_range(r, 1, 3);

	img_rect(im, 0, 0, im->w, im->h, white);
	for (int x = l; x < right; x += 20)
		img_rect(im, x, top, x + 1, b, grid);
	for (int y = b; y > top; y -= 20)
		img_rect(im, l, y, right, y + 1, grid);
	img_rect(im, l, top, l + 1, b + 1, axis);
	img_rect(im, l, b, right, b + 1, axis);
	for (int s = 0; s < series; s++) {
		double amp = 0.3 + 0.6 * rng_unit(r);
		double freq = 1 + 5 * rng_unit(r), ph = TWO_PI * rng_unit(r);
		double decay = rng_unit(r) * 0.8;
		int px = -1, py = -1;

		for (int x = l + 1; x < right; x += kind == 2 ? 14 : 1) {
			double t = (double)(x - l) / (double)(right - l);
			double v = amp * fast_sin(TWO_PI * freq * t + ph) *
				   (1 - decay * t);
			int y = (top + b) / 2 - (int)(v * (b - top) / 2.2);

			if (kind == 0) {
				if (px >= 0)
					img_line(im, px, py, x, y, 2,
						 palette[s]);
				px = x;
				py = y;
			} else if (kind == 1) {
				if (rng_chance(r, 12))
					img_disc(im, x, y + rng_range(r, -4, 4),
						 2, 0, palette[s]);
			} else {
				img_rect(im, x + 2 + s * 3, y < b ? y : b - 1,
					 x + 5 + s * 3, b, palette[s]);
			}
		}
	}
}

static int build_science(struct ds *d)
{
	static const char *const subjects[] = {"physics", "chemistry",
					       "biology", "astronomy"};
	static const char *const kinds[] = {"line-plot", "scatter", "bar"};
	static const char *const vars_zh[] = {"温度", "时间", "压强", "浓度",
					      "频率"};
	static const char *const vars_en[] = {"temperature", "time", "pressure",
					      "concentration", "frequency"};
	const unsigned int per_subject = 72, per_bucket = 24;
	const struct domain *sci = &domains[DOM_SCIENCE];
	struct buf png, js, cap, idx;
	unsigned int total = 0;
	char *body;
	int rc = 0;

	sb_init(&png);
	sb_init(&js);
	sb_init(&cap);
	sb_init(&idx);
	for (size_t s = 0; s < ARRAY_SIZE(subjects); s++) {
		for (unsigned int k = 0; k < per_subject; k++) {
			unsigned int n = total++;
			char rel[128], id[32];
			enum lang lang = n % 2 ? LANG_EN : LANG_ZH;
			int kind, w, h, v;
			struct image im;
			struct rng r;

			snprintf(id, sizeof(id), "fig_%06u", n);
			snprintf(rel, sizeof(rel), "figures/%s/%03u/%s.png",
				 subjects[s], k / per_bucket, id);
			ds_rng(d, &r, rel);
			kind = (int)rng_below(&r, ARRAY_SIZE(kinds));
			w = rng_range(&r, 128, 256);
			h = rng_range(&r, 96, 192);
			img_init(&im, w, h);
			science_chart(&im, &r, kind);
			buf_reset(&png);
			rc = encode_png(&im, &png);
			img_free(&im);
			if (!rc)
				rc = ds_write_buf(d, rel, &png);
			if (rc)
				goto out;

			v = (int)rng_below(&r, ARRAY_SIZE(vars_en));
			buf_reset(&cap);
			if (lang == LANG_ZH)
				sb_printf(&cap, "图%u：%s随%s的变化。", k + 1,
					  pick_word(&r, &sci->zh[2]),
					  vars_zh[v]);
			else
				sb_printf(&cap,
					  "Figure %u: %s as a function "
					  "of %s.",
					  k + 1, pick_word(&r, &sci->en[2]),
					  vars_en[v]);
			buf_reset(&js);
			rc = json_put_pretty(
			    &js,
			    json_pack("{s:s, s:s, s:s%, s:s, s:s, "
				      "s:i, s:i, s:s}",
				      "id", id, "image", rel + 8, "caption",
				      (const char *)cap.data, cap.len,
				      "subject", subjects[s], "figure_type",
				      kinds[kind], "width", w, "height", h,
				      "lang", lang == LANG_ZH ? "zh" : "en"));
			rel[strlen(rel) - 3] = '\0';
			strcat(rel, "json");
			if (!rc)
				rc = ds_write_buf(d, rel, &js);
			if (!rc)
				rc = jsonl_put(
				    &idx, json_pack("{s:s, s:s, s:s}", "id", id,
						    "subject", subjects[s],
						    "meta", rel));
			if (rc)
				goto out;
		}
	}
	rc = ds_write_buf(d, "index.jsonl", &idx);
	if (!rc)
		rc = write_license(d);
	if (rc)
		goto out;
	body = xasprintf(
	    "## Layout\n\n"
	    "- `figures/<subject>/<bucket>/fig_NNNNNN.png`: %u small "
	    "scientific charts (line plots, scatter plots, bar charts).\n"
	    "- `figures/<subject>/<bucket>/fig_NNNNNN.json`: one "
	    "metadata file per figure with a Chinese or English "
	    "caption.\n"
	    "- `index.jsonl`: every figure and its metadata path.\n",
	    total);
	rc = write_readme(d, body);
	free(body);
out:
	buf_release(&png);
	buf_release(&js);
	buf_release(&cap);
	buf_release(&idx);
	return rc;
}

/* ---- the platform ---- */

static const struct dataset datasets[] = {
    {"law-judgments-zh", "law", "text", "open", "CC-BY-4.0",
     "Anonymised Chinese court judgments with English summaries. "
     "中国裁判文书（民事、刑事、行政），已脱敏。",
     build_law},
    {"court-hearings-audio", "law", "audio", "secure", "proprietary",
     "Recordings of closed court hearings with time-aligned Chinese "
     "transcripts. 庭审录音与转写。",
     build_court},
    {"medical-dialogue", "medicine", "instruction", "secure", "proprietary",
     "De-identified doctor-patient consultations as instruction data, "
     "Chinese and English. 医患问诊对话。",
     build_medical},
    {"finance-reports", "finance", "text", "shared", "CC-BY-NC-4.0",
     "Annual reports (English) and quarterly reports (Chinese) of listed "
     "companies, plus income-statement tables.",
     build_finance_reports},
    {"finance-instruct", "finance", "instruction", "open", "Apache-2.0",
     "Financial analysis instructions with reference answers in Chinese "
     "and English. 金融分析指令数据。",
     build_finance_instruct},
    {"edu-textbooks", "education", "text", "open", "CC-BY-4.0",
     "Primary and secondary school textbook chapters in Chinese and "
     "English. 中小学教材文本。",
     build_edu_textbooks},
    {"edu-lecture-video", "education", "video", "shared", "CC-BY-NC-4.0",
     "University lecture clips as JPEG frame sequences with WebVTT "
     "subtitles.",
     build_edu_video},
    {"news-crawl", "news", "text", "open", "CC-BY-4.0",
     "Deduplicated Chinese and English news articles from a web crawl. "
     "新闻网页语料。",
     build_news},
    {"gov-images", "government", "image-text", "shared", "CC-BY-NC-4.0",
     "Scanned government notices and administrative maps with captions, "
     "as WebDataset shards. 政府公文扫描件。",
     build_gov_images},
    {"science-figures", "science", "image-text", "open", "CC-BY-4.0",
     "Small scientific charts with bilingual captions, one file per "
     "sample.",
     build_science},
};

static int write_catalog(struct gen *g)
{
	json_t *list = json_array();
	struct buf out;
	char *path;
	int rc;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(datasets); i++) {
		const struct dataset *s = &datasets[i];

		if (json_array_append_new(
			list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
					"name", s->name, "industry",
					s->industry, "modality", s->modality,
					"tier", s->tier, "license", s->license,
					"description", s->description)) != 0) {
			json_decref(list);
			return -ENOMEM;
		}
	}
	sb_init(&out);
	rc = json_put_pretty(&out, json_pack("{s:o}", "datasets", list));
	path = xasprintf("%s/datasets.json", g->root);
	if (!rc)
		rc = write_path(g, path, out.data, out.len);
	free(path);
	buf_release(&out);
	return rc;
}

/* 0 if dir is missing (then created) or an empty directory. */
static int prepare_out_dir(const char *dir)
{
	struct stat st;
	struct dirent *e;
	DIR *dh;
	int rc = 0;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT) {
			rc = -errno;
			log_error("cannot stat '%s': %s", dir, strerror(-rc));
			return rc;
		}
		rc = fs_mkdir_p(dir, 0755);
		if (rc)
			log_error("cannot create '%s': %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("cannot generate into '%s': not a directory", dir);
		return -ENOTDIR;
	}
	dh = opendir(dir);
	if (!dh) {
		rc = -errno;
		log_error("cannot open '%s': %s", dir, strerror(-rc));
		return rc;
	}
	while ((e = readdir(dh))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			log_error("refusing to generate into '%s': directory "
				  "is not empty",
				  dir);
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(dh);
	return rc;
}

static int64_t path_mtime(uint64_t seed, const char *rel)
{
	char *label = xasprintf("mtime:%s", rel);
	struct rng r;

	rng_init(&r, seed, label);
	free(label);
	return SAMPLE_EPOCH + (int64_t)rng_below(&r, MTIME_SPREAD);
}

static int set_times(const char *path, int64_t t)
{
	struct timespec ts[2] = {{.tv_sec = (time_t)t}, {.tv_sec = (time_t)t}};

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Post-order walk fixing modes and mtimes. Files get a per-path time; a
 * directory gets its newest child's time (or its own if empty), as if it
 * had last changed when its newest entry was written.
 */
static int stamp_tree(uint64_t seed, const char *path, const char *rel,
		      int64_t *out_time)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int64_t newest = 0;
	struct dirent *e;
	DIR *dh;
	int rc = 0;

	dh = opendir(path);
	if (!dh) {
		rc = -errno;
		log_error("cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(dh);
	qsort(names, n, sizeof(*names), cmp_names);

	for (size_t i = 0; i < n && !rc; i++) {
		char *child = xasprintf("%s/%s", path, names[i]);
		char *crel = *rel ? xasprintf("%s/%s", rel, names[i])
				  : xstrdup(names[i]);
		struct stat st;
		int64_t t = 0;

		if (lstat(child, &st) != 0) {
			rc = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			rc = stamp_tree(seed, child, crel, &t);
		} else {
			t = path_mtime(seed, crel);
			if (S_ISREG(st.st_mode) && chmod(child, 0644) != 0)
				rc = -errno;
			if (!rc)
				rc = set_times(child, t);
		}
		if (rc)
			log_error("cannot set mode and times of '%s': %s",
				  child, strerror(-rc));
		if (t > newest)
			newest = t;
		free(child);
		free(crel);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc)
		return rc;
	if (!n)
		newest = path_mtime(seed, rel);
	if (chmod(path, 0755) != 0 || set_times(path, newest) != 0) {
		rc = -errno;
		log_error("cannot set mode and times of '%s': %s", path,
			  strerror(-rc));
		return rc;
	}
	*out_time = newest;
	return 0;
}

int sample_generate(const char *out_dir, uint64_t seed)
{
	struct gen g;
	int64_t t;
	int rc;

	memset(&g, 0, sizeof(g));
	g.root = out_dir;
	g.seed = seed;
	sb_init(&g.shared_news);
	rc = prepare_out_dir(out_dir);
	if (rc)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(datasets); i++) {
		struct ds d;

		memset(&d, 0, sizeof(d));
		d.g = &g;
		d.info = &datasets[i];
		d.secure = !strcmp(datasets[i].tier, "secure");
		rc = datasets[i].build(&d);
		if (rc) {
			log_error("cannot generate dataset '%s': %s",
				  datasets[i].name, strerror(-rc));
			goto out;
		}
	}
	rc = write_catalog(&g);
	if (rc)
		goto out;
	rc = stamp_tree(seed, out_dir, "", &t);
	if (rc)
		goto out;
	printf("sample: %zu datasets, %lu files, %lu symlinks, %" PRIu64
	       " bytes (%" PRIu64 " MiB) in '%s'\n",
	       ARRAY_SIZE(datasets), g.files, g.links, g.bytes, g.bytes / MIB,
	       out_dir);
out:
	buf_release(&g.shared_news);
	return rc;
}
