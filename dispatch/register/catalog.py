"""Static reference data for the register: places, store chains, product groups.

The synthetic register (:mod:`dispatch.register.seed`) is built from these tables, and
the feed importer (:mod:`dispatch.register.feed`) checks web categories against them.
Municipality names are Finnish, with the Swedish name where the municipality is
bilingual; post towns are written in capitals as on an envelope. Populations are in
thousands (rounded, 2023) and only serve as weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Municipality:
    name: str
    region: str
    population: float  # thousands, used as a weight
    sv_share: float  # share of Swedish speakers
    post_town: str
    post_town_sv: str | None  # the Swedish post town where the municipality is bilingual
    postcodes: tuple[str, ...]


def _codes(*spans: tuple[int, int]) -> tuple[str, ...]:
    """Postcodes from inclusive (first, last) spans, stepping by ten as most real ones do."""
    return tuple(f"{n:05d}" for first, last in spans for n in range(first, last + 1, 10))


def _m(
    name: str,
    region: str,
    population: float,
    sv_share: float,
    post_town: str,
    post_town_sv: str | None,
    *spans: tuple[int, int],
) -> Municipality:
    return Municipality(name, region, population, sv_share, post_town, post_town_sv, _codes(*spans))


UUSIMAA = "Uusimaa"
POHJANMAA = "Pohjanmaa"

MUNICIPALITIES: tuple[Municipality, ...] = (
    _m("Helsinki", UUSIMAA, 674, 0.055, "HELSINKI", "HELSINGFORS", (100, 990)),
    _m("Espoo", UUSIMAA, 314, 0.065, "ESPOO", "ESBO", (2100, 2380), (2600, 2680), (2710, 2980)),
    _m("Vantaa", UUSIMAA, 248, 0.022, "VANTAA", "VANDA", (1200, 1770)),
    _m("Kauniainen", UUSIMAA, 10, 0.32, "KAUNIAINEN", "GRANKULLA", (2700, 2700)),
    _m("Kirkkonummi", UUSIMAA, 41, 0.16, "KIRKKONUMMI", "KYRKSLÄTT", (2400, 2480)),
    _m("Porvoo", UUSIMAA, 51, 0.28, "PORVOO", "BORGÅ", (6100, 6200), (6400, 6500)),
    _m("Sipoo", UUSIMAA, 22, 0.33, "SIPOO", "SIBBO", (4130, 4170)),
    _m("Raasepori", UUSIMAA, 27, 0.65, "TAMMISAARI", "EKENÄS", (10600, 10660)),
    _m("Loviisa", UUSIMAA, 14.5, 0.38, "LOVIISA", "LOVISA", (7900, 7940)),
    _m("Inkoo", UUSIMAA, 5.5, 0.55, "INKOO", "INGÅ", (10210, 10210)),
    _m("Hyvinkää", UUSIMAA, 47, 0.005, "HYVINKÄÄ", None, (5800, 5900)),
    _m("Järvenpää", UUSIMAA, 45, 0.006, "JÄRVENPÄÄ", None, (4400, 4430)),
    _m("Tuusula", UUSIMAA, 40, 0.01, "TUUSULA", None, (4300, 4380)),
    _m("Nurmijärvi", UUSIMAA, 44, 0.01, "NURMIJÄRVI", None, (1900, 1900), (5100, 5200)),
    _m("Kerava", UUSIMAA, 38, 0.01, "KERAVA", None, (4200, 4260)),
    _m("Lohja", UUSIMAA, 46, 0.04, "LOHJA", None, (8100, 8500)),
    _m("Vihti", UUSIMAA, 29, 0.006, "VIHTI", None, (3400, 3400), (3100, 3100)),
    _m("Tampere", "Pirkanmaa", 255, 0.005, "TAMPERE", None, (33100, 33960)),
    _m("Nokia", "Pirkanmaa", 35, 0.003, "NOKIA", None, (37100, 37150)),
    _m("Ylöjärvi", "Pirkanmaa", 34, 0.003, "YLÖJÄRVI", None, (33470, 33480)),
    _m("Kangasala", "Pirkanmaa", 33, 0.003, "KANGASALA", None, (36200, 36240)),
    _m("Lempäälä", "Pirkanmaa", 24, 0.003, "LEMPÄÄLÄ", None, (37500, 37560)),
    _m("Valkeakoski", "Pirkanmaa", 20, 0.002, "VALKEAKOSKI", None, (37600, 37630)),
    _m("Sastamala", "Pirkanmaa", 24, 0.002, "SASTAMALA", None, (38200, 38210)),
    _m("Turku", "Varsinais-Suomi", 202, 0.05, "TURKU", "ÅBO", (20100, 20960)),
    _m("Kaarina", "Varsinais-Suomi", 36, 0.05, "KAARINA", "S:T KARINS", (20760, 20780)),
    _m("Salo", "Varsinais-Suomi", 51, 0.007, "SALO", None, (24100, 24280)),
    _m("Raisio", "Varsinais-Suomi", 25, 0.01, "RAISIO", None, (21200, 21280)),
    _m("Parainen", "Varsinais-Suomi", 15, 0.55, "PARAINEN", "PARGAS", (21600, 21610)),
    _m("Kemiönsaari", "Varsinais-Suomi", 6.5, 0.68, "KEMIÖ", "KIMITO", (25700, 25700)),
    _m("Uusikaupunki", "Varsinais-Suomi", 15, 0.01, "UUSIKAUPUNKI", None, (23500, 23500)),
    _m("Pori", "Satakunta", 83, 0.004, "PORI", None, (28100, 28900)),
    _m("Rauma", "Satakunta", 39, 0.003, "RAUMA", None, (26100, 26200)),
    _m("Hämeenlinna", "Kanta-Häme", 68, 0.004, "HÄMEENLINNA", None, (13100, 13900)),
    _m("Riihimäki", "Kanta-Häme", 29, 0.003, "RIIHIMÄKI", None, (11100, 11130)),
    _m("Forssa", "Kanta-Häme", 17, 0.002, "FORSSA", None, (30100, 30420)),
    _m("Lahti", "Päijät-Häme", 121, 0.004, "LAHTI", None, (15100, 15950)),
    _m("Hollola", "Päijät-Häme", 23, 0.002, "HOLLOLA", None, (15870, 15880)),
    _m("Kotka", "Kymenlaakso", 51, 0.008, "KOTKA", None, (48100, 48930)),
    _m("Kouvola", "Kymenlaakso", 80, 0.003, "KOUVOLA", None, (45100, 45910)),
    _m("Lappeenranta", "Etelä-Karjala", 73, 0.003, "LAPPEENRANTA", None, (53100, 53950)),
    _m("Imatra", "Etelä-Karjala", 25, 0.002, "IMATRA", None, (55100, 55910)),
    _m("Mikkeli", "Etelä-Savo", 52, 0.002, "MIKKELI", None, (50100, 50970)),
    _m("Savonlinna", "Etelä-Savo", 32, 0.002, "SAVONLINNA", None, (57100, 57810)),
    _m("Pieksämäki", "Etelä-Savo", 17, 0.001, "PIEKSÄMÄKI", None, (76100, 76150)),
    _m("Kuopio", "Pohjois-Savo", 124, 0.002, "KUOPIO", None, (70100, 70900)),
    _m("Iisalmi", "Pohjois-Savo", 21, 0.001, "IISALMI", None, (74100, 74170)),
    _m("Varkaus", "Pohjois-Savo", 20, 0.001, "VARKAUS", None, (78200, 78300)),
    _m("Joensuu", "Pohjois-Karjala", 77, 0.002, "JOENSUU", None, (80100, 80400)),
    _m("Jyväskylä", "Keski-Suomi", 147, 0.003, "JYVÄSKYLÄ", None, (40100, 40950)),
    _m("Jämsä", "Keski-Suomi", 20, 0.001, "JÄMSÄ", None, (42100, 42100)),
    _m("Seinäjoki", "Etelä-Pohjanmaa", 65, 0.003, "SEINÄJOKI", None, (60100, 60800)),
    _m("Lapua", "Etelä-Pohjanmaa", 14, 0.001, "LAPUA", None, (62100, 62100)),
    _m("Kurikka", "Etelä-Pohjanmaa", 20, 0.001, "KURIKKA", None, (61300, 61300)),
    _m("Vaasa", POHJANMAA, 68, 0.23, "VAASA", "VASA", (65100, 65380)),
    _m(
        "Mustasaari",
        POHJANMAA,
        19.5,
        0.68,
        "MUSTASAARI",
        "KORSHOLM",
        (65610, 65650),
        (65710, 65760),
    ),
    _m("Pietarsaari", POHJANMAA, 19, 0.56, "PIETARSAARI", "JAKOBSTAD", (68600, 68660)),
    _m("Närpiö", POHJANMAA, 9.2, 0.78, "NÄRPIÖ", "NÄRPES", (64200, 64250)),
    _m(
        "Kristiinankaupunki",
        POHJANMAA,
        6.3,
        0.55,
        "KRISTIINANKAUPUNKI",
        "KRISTINESTAD",
        (64100, 64100),
    ),
    _m("Uusikaarlepyy", POHJANMAA, 7.5, 0.87, "UUSIKAARLEPYY", "NYKARLEBY", (66900, 66900)),
    _m("Pedersören kunta", POHJANMAA, 11.2, 0.89, "PEDERSÖRE", "PEDERSÖRE", (68910, 68920)),
    _m("Kruunupyy", POHJANMAA, 6.5, 0.72, "KRUUNUPYY", "KRONOBY", (68500, 68500)),
    _m("Maalahti", POHJANMAA, 5.5, 0.88, "MAALAHTI", "MALAX", (66100, 66100)),
    _m("Laihia", POHJANMAA, 8, 0.01, "LAIHIA", None, (66400, 66400)),
    _m("Kokkola", "Keski-Pohjanmaa", 48, 0.12, "KOKKOLA", "KARLEBY", (67100, 67900)),
    _m("Oulu", "Pohjois-Pohjanmaa", 215, 0.002, "OULU", None, (90100, 90940)),
    _m("Raahe", "Pohjois-Pohjanmaa", 24, 0.001, "RAAHE", None, (92100, 92150)),
    _m("Kempele", "Pohjois-Pohjanmaa", 19.5, 0.002, "KEMPELE", None, (90440, 90450)),
    _m("Ylivieska", "Pohjois-Pohjanmaa", 15, 0.001, "YLIVIESKA", None, (84100, 84100)),
    _m("Kuusamo", "Pohjois-Pohjanmaa", 15, 0.001, "KUUSAMO", None, (93600, 93600)),
    _m("Kajaani", "Kainuu", 36, 0.001, "KAJAANI", None, (87100, 87950)),
    _m("Rovaniemi", "Lappi", 65, 0.002, "ROVANIEMI", None, (96100, 96930)),
    _m("Kemi", "Lappi", 20, 0.002, "KEMI", None, (94100, 94900)),
    _m("Tornio", "Lappi", 21, 0.004, "TORNIO", None, (95400, 95450)),
    # Åland is Swedish-speaking only: the post town has just its Swedish name.
    _m("Maarianhamina", "Ahvenanmaa", 11.8, 0.85, "MARIEHAMN", "MARIEHAMN", (22100, 22160)),
)

#: Districts used to tell stores of one chain apart in the larger cities.
# fmt: off
DISTRICTS: dict[str, tuple[str, ...]] = {
    "Helsinki": (
        "Kamppi", "Kallio", "Itäkeskus", "Malmi", "Kannelmäki", "Herttoniemi", "Vuosaari",
        "Lauttasaari", "Munkkiniemi", "Pasila", "Töölö", "Arabianranta", "Myllypuro",
        "Kontula", "Pukinmäki", "Oulunkylä", "Malminkartano", "Pitäjänmäki", "Ruoholahti",
        "Jätkäsaari", "Kalasatama", "Viikki", "Vallila", "Hakaniemi", "Kruununhaka",
        "Punavuori", "Meilahti", "Konala", "Maunula", "Tapanila", "Puistola", "Mellunmäki",
        "Laajasalo", "Kulosaari", "Roihuvuori", "Haaga", "Käpylä", "Kaarela", "Ruskeasuo",
    ),
    "Espoo": (
        "Tapiola", "Leppävaara", "Matinkylä", "Iso Omena", "Espoonlahti", "Espoon keskus",
        "Kauklahti", "Olari", "Niittykumpu", "Kivenlahti", "Suurpelto", "Otaniemi", "Soukka",
        "Kalajärvi", "Laajalahti", "Karakallio",
    ),
    "Vantaa": (
        "Tikkurila", "Myyrmäki", "Martinlaakso", "Koivukylä", "Hakunila", "Korso", "Kivistö",
        "Jumbo", "Hiekkaharju", "Länsimäki", "Aviapolis", "Rekola", "Päiväkumpu",
    ),
    "Tampere": (
        "Keskusta", "Hervanta", "Lielahti", "Kaleva", "Linnainmaa", "Tammela", "Pispala",
        "Härmälä", "Koilliskeskus", "Ratina", "Tesoma", "Peltolammi",
    ),
    "Turku": (
        "Keskusta", "Skanssi", "Runosmäki", "Varissuo", "Hirvensalo", "Nummi", "Länsikeskus",
        "Itäharju", "Kupittaa", "Hämeenkatu",
    ),
    "Oulu": (
        "Keskusta", "Raksila", "Kaakkuri", "Linnanmaa", "Tuira", "Ritaharju",
        "Limingantulli", "Haukipudas", "Kaijonharju",
    ),
}
# fmt: on
GENERIC_DISTRICTS = ("Keskusta", "Asema", "Tori", "Itä", "Länsi", "Pohjoinen", "Etelä", "Satama")


@dataclass(frozen=True)
class Chain:
    name: str
    kind: str  # "retail", "fuel" or "restaurant"
    per_store: float  # one store per this many thousand inhabitants
    minimum: int  # stores in even the smallest municipality
    only_in: frozenset[str] | None = None  # municipalities the chain is limited to


_METRO = frozenset({"Helsinki", "Espoo", "Vantaa", "Kauniainen"})
_DEPARTMENT_STORE_CITIES = frozenset(
    {
        "Helsinki", "Espoo", "Vantaa", "Tampere", "Turku", "Oulu", "Jyväskylä", "Kuopio",
        "Lahti", "Pori", "Vaasa", "Joensuu", "Seinäjoki", "Hämeenlinna", "Kouvola",
        "Lappeenranta", "Mikkeli", "Kajaani", "Rovaniemi", "Kotka", "Porvoo", "Kokkola",
    }
)  # fmt: skip

CHAINS: tuple[Chain, ...] = (
    Chain("Prisma", "retail", 60, 0),
    Chain("S-market", "retail", 12, 1),
    Chain("Sale", "retail", 25, 0),
    Chain("Alepa", "retail", 20, 0, only_in=_METRO),
    Chain("Sokos", "retail", 1000, 1, only_in=_DEPARTMENT_STORE_CITIES),
    Chain("ABC", "fuel", 40, 1),
    Chain("Rosso", "restaurant", 60, 0),
    Chain("Amarillo", "restaurant", 100, 0),
    Chain("Fransmanni", "restaurant", 120, 0),
    Chain("Presto", "restaurant", 80, 0),
    Chain("Coffee House", "restaurant", 50, 0),
)

STORE_KINDS = ("retail", "fuel", "restaurant")


@dataclass(frozen=True)
class StoreSpec:
    id: int
    name: str
    chain: str
    kind: str
    municipality: str
    region: str


def _store_count(chain: Chain, muni: Municipality) -> int:
    if chain.only_in is not None and muni.name not in chain.only_in:
        return 0
    return max(chain.minimum, round(muni.population / chain.per_store))


@cache
def stores() -> tuple[StoreSpec, ...]:
    """Every store, numbered from 1, spread over the municipalities by population."""
    result: list[StoreSpec] = []
    for muni in MUNICIPALITIES:
        districts = DISTRICTS.get(muni.name, GENERIC_DISTRICTS)
        for chain in CHAINS:
            count = _store_count(chain, muni)
            for i in range(count):
                if count == 1:
                    place = muni.name
                elif muni.name in DISTRICTS and i < len(districts):
                    # "Keskusta" alone would not say which city's centre.
                    generic = districts[i] in GENERIC_DISTRICTS
                    place = f"{muni.name} {districts[i]}" if generic else districts[i]
                elif i < len(districts):
                    place = f"{muni.name} {districts[i]}"
                else:
                    place = f"{muni.name} {i + 1}"
                result.append(
                    StoreSpec(
                        id=len(result) + 1,
                        name=f"{chain.name} {place}",
                        chain=chain.name,
                        kind=chain.kind,
                        municipality=muni.name,
                        region=muni.region,
                    )
                )
    return tuple(result)


@dataclass(frozen=True)
class GroupSpec:
    id: int
    code: str
    parent: str | None
    name_fi: str
    name_sv: str
    sensitive: bool


#: Groups whose purchase reveals health (GDPR Art. 9). Every descendant is sensitive too.
SENSITIVE_ROOTS = frozenset({"pharmacy", "special_diet"})

# (code, parent, Finnish name, Swedish name). Parents come before their children.
_GROUPS: tuple[tuple[str, str | None, str, str], ...] = (
    ("groceries", None, "Päivittäistavarat", "Dagligvaror"),
    ("dairy", "groceries", "Maitotuotteet", "Mejeriprodukter"),
    ("cheese", "groceries", "Juustot", "Ostar"),
    ("eggs", "groceries", "Kananmunat", "Ägg"),
    ("bread", "groceries", "Leivät", "Bröd"),
    ("meat", "groceries", "Liha", "Kött"),
    ("fish", "groceries", "Kala", "Fisk"),
    ("fruit_vegetables", "groceries", "Hedelmät ja vihannekset", "Frukt och grönsaker"),
    ("frozen", "groceries", "Pakasteet", "Djupfryst"),
    ("dry_goods", "groceries", "Kuivatuotteet", "Torrvaror"),
    ("breakfast_cereals", "groceries", "Murot ja myslit", "Flingor och müsli"),
    ("spices", "groceries", "Mausteet", "Kryddor"),
    ("ready_meals", "groceries", "Valmisruoat", "Färdigmat"),
    ("snacks", "groceries", "Naposteltavat", "Snacks"),
    ("sweets", "groceries", "Makeiset", "Godis"),
    ("coffee_tea", "groceries", "Kahvi ja tee", "Kaffe och te"),
    ("beverages", "groceries", "Virvoitusjuomat", "Läskedrycker"),
    ("organic", "groceries", "Luomutuotteet", "Ekologiska produkter"),
    ("alcohol", None, "Mietojen alkoholijuomat", "Lätta alkoholdrycker"),
    ("beer", "alcohol", "Oluet", "Öl"),
    ("cider_long_drinks", "alcohol", "Siiderit ja lonkerot", "Cider och long drinks"),
    ("baby", None, "Vauvatuotteet", "Babyprodukter"),
    ("baby_food", "baby", "Vauvanruoat", "Barnmat"),
    ("diapers", "baby", "Vaipat", "Blöjor"),
    ("baby_care", "baby", "Vauvanhoito", "Babyvård"),
    ("infant_formula", "baby", "Äidinmaidonkorvikkeet", "Modersmjölksersättning"),
    ("baby_clothes", "baby", "Vauvanvaatteet", "Babykläder"),
    ("pharmacy", None, "Apteekki- ja terveystuotteet", "Apoteks- och hälsoprodukter"),
    ("medicines", "pharmacy", "Itsehoitolääkkeet", "Receptfria läkemedel"),
    ("pregnancy_tests", "pharmacy", "Raskaustestit", "Graviditetstest"),
    ("incontinence", "pharmacy", "Inkontinenssituotteet", "Inkontinensprodukter"),
    ("vitamins", "pharmacy", "Vitamiinit ja lisäravinteet", "Vitaminer och kosttillskott"),
    ("first_aid", "pharmacy", "Ensiaputarvikkeet", "Första hjälpen"),
    ("contraceptives", "pharmacy", "Ehkäisyvälineet", "Preventivmedel"),
    ("nicotine_replacement", "pharmacy", "Nikotiinikorvaustuotteet", "Nikotinersättning"),
    ("special_diet", None, "Erityisruokavaliot", "Specialkost"),
    ("gluten_free_diet", "special_diet", "Gluteenittomat tuotteet", "Glutenfria produkter"),
    ("diabetic_products", "special_diet", "Diabeetikon tuotteet", "Produkter för diabetiker"),
    (
        "clinical_nutrition",
        "special_diet",
        "Kliiniset ravintovalmisteet",
        "Kliniska näringspreparat",
    ),
    ("personal_care", None, "Kauneus ja hygienia", "Skönhet och hygien"),
    ("hair_care", "personal_care", "Hiustenhoito", "Hårvård"),
    ("skin_care", "personal_care", "Ihonhoito", "Hudvård"),
    ("cosmetics", "personal_care", "Kosmetiikka", "Kosmetik"),
    ("oral_care", "personal_care", "Suunhoito", "Munvård"),
    ("shaving", "personal_care", "Parranajo", "Rakning"),
    ("deodorants", "personal_care", "Deodorantit", "Deodoranter"),
    ("feminine_hygiene", "personal_care", "Naisten hygienia", "Intimhygien"),
    ("household_goods", None, "Kodin puhdistus ja paperit", "Rengöring och papper"),
    ("cleaning", "household_goods", "Puhdistusaineet", "Rengöringsmedel"),
    ("laundry", "household_goods", "Pyykinpesu", "Tvätt"),
    ("paper_products", "household_goods", "Paperituotteet", "Pappersprodukter"),
    ("dishwashing", "household_goods", "Astianpesu", "Disk"),
    ("home", None, "Koti ja sisustus", "Hem och inredning"),
    ("kitchenware", "home", "Keittiötarvikkeet", "Köksartiklar"),
    ("home_textiles", "home", "Kodintekstiilit", "Hemtextil"),
    ("furniture", "home", "Huonekalut", "Möbler"),
    ("lighting", "home", "Valaisimet", "Belysning"),
    ("decorations", "home", "Sisustustuotteet", "Inredningsdetaljer"),
    ("electronics", None, "Kodinelektroniikka", "Hemelektronik"),
    ("phones", "electronics", "Puhelimet", "Telefoner"),
    ("computers", "electronics", "Tietokoneet", "Datorer"),
    ("tv_audio", "electronics", "TV ja audio", "TV och ljud"),
    ("small_appliances", "electronics", "Pienkoneet", "Småapparater"),
    ("gaming", "electronics", "Pelit ja konsolit", "Spel och konsoler"),
    ("clothing", None, "Vaatteet", "Kläder"),
    ("womens_clothing", "clothing", "Naisten vaatteet", "Damkläder"),
    ("mens_clothing", "clothing", "Miesten vaatteet", "Herrkläder"),
    ("childrens_clothing", "clothing", "Lasten vaatteet", "Barnkläder"),
    ("shoes", "clothing", "Kengät", "Skor"),
    ("accessories", "clothing", "Asusteet", "Accessoarer"),
    ("sports", None, "Urheilu ja vapaa-aika", "Sport och fritid"),
    ("bicycles", "sports", "Polkupyörät", "Cyklar"),
    ("cycling_gear", "sports", "Pyöräilyvarusteet", "Cykeltillbehör"),
    ("outdoor", "sports", "Retkeily", "Friluftsliv"),
    ("fitness", "sports", "Kuntoilu", "Träning"),
    ("winter_sports", "sports", "Talviurheilu", "Vintersport"),
    ("fishing", "sports", "Kalastus", "Fiske"),
    ("garden", None, "Puutarha", "Trädgård"),
    ("plants", "garden", "Kasvit ja siemenet", "Växter och fröer"),
    ("garden_tools", "garden", "Puutarhatyökalut", "Trädgårdsredskap"),
    ("grills", "garden", "Grillit", "Grillar"),
    ("pets", None, "Lemmikit", "Husdjur"),
    ("pet_food", "pets", "Lemmikkiruoat", "Djurmat"),
    ("pet_care", "pets", "Lemmikkitarvikkeet", "Djurtillbehör"),
    ("fuel", None, "Polttoaineet", "Drivmedel"),
    ("petrol", "fuel", "Bensiini", "Bensin"),
    ("diesel", "fuel", "Diesel", "Diesel"),
    ("ev_charging", "fuel", "Sähkölataus", "Elladdning"),
    ("car_care", None, "Autotarvikkeet", "Biltillbehör"),
    ("car_wash", "car_care", "Autopesu", "Biltvätt"),
    ("car_accessories", "car_care", "Autovarusteet", "Biltillbehör och utrustning"),
    ("motor_oil", "car_care", "Moottoriöljyt", "Motoroljor"),
    ("toys", None, "Lelut", "Leksaker"),
    ("board_games", "toys", "Lautapelit", "Sällskapsspel"),
    ("outdoor_toys", "toys", "Ulkolelut", "Utomhusleksaker"),
    ("books_media", None, "Kirjat ja lehdet", "Böcker och tidningar"),
    ("books", "books_media", "Kirjat", "Böcker"),
    ("magazines", "books_media", "Aikakauslehdet", "Tidskrifter"),
    ("seasonal", None, "Sesonkituotteet", "Säsongsvaror"),
    ("christmas", "seasonal", "Joulutuotteet", "Julartiklar"),
    ("easter", "seasonal", "Pääsiäistuotteet", "Påskartiklar"),
)


@cache
def product_groups() -> tuple[GroupSpec, ...]:
    """The product-group hierarchy, numbered from 1 in catalogue order."""
    sensitive: dict[str, bool] = {}
    result: list[GroupSpec] = []
    for i, (code, parent, fi, sv) in enumerate(_GROUPS, start=1):
        flag = code in SENSITIVE_ROOTS or (parent is not None and sensitive[parent])
        sensitive[code] = flag
        result.append(GroupSpec(i, code, parent, fi, sv, flag))
    return tuple(result)


@cache
def group_ids() -> dict[str, int]:
    return {g.code: g.id for g in product_groups()}


def children(code: str) -> tuple[str, ...]:
    return tuple(g.code for g in product_groups() if g.parent == code)


#: Web-shop categories recorded in ``web_interests.category``.
WEB_CATEGORIES = (
    "bicycles",
    "baby",
    "electronics",
    "home",
    "garden",
    "travel",
    "sports",
    "fashion",
)

#: Throw-away mail domains (RFC 2606 reserves .example): synthetic addresses never reach
#: a real mailbox even if a demo is pointed at a real mail relay.
EMAIL_DOMAINS = ("posti.example", "sahkoposti.example", "mail.example", "inbox.example")

#: Surnames common among Swedish-speaking Finns, mixed into the Swedish name pool so
#: that the Ostrobothnian register does not read like a Stockholm phone book.
FINLAND_SWEDISH_SURNAMES = (
    "Nyström", "Björklund", "Sjöberg", "Holmström", "Lindqvist", "Granholm", "Forsman",
    "Backman", "Sundqvist", "Wikström", "Nylund", "Österberg", "Ahlskog", "Storbacka",
    "Kronqvist", "Mattsson", "Lindholm", "Grönroos", "Strandberg", "Vikström", "Enlund",
    "Söderlund", "Sandvik", "Nordling", "Hägglund", "Åkerman", "Westerlund", "Rönnqvist",
    "Björkqvist", "Eriksson", "Holmberg", "Lassila", "Forsberg", "Blomqvist", "Åström",
)  # fmt: skip


@dataclass(frozen=True)
class BonusPartner:
    """A partner that grants loyalty bonus and reports its members' purchases."""

    code: str
    name: str
    #: Share of adult members who buy from it at all ...
    customers: float
    #: ... on about this many days a year ...
    days_per_year: float
    #: ... spending about this much a day (euros).
    amount: float


#: The synthetic register's bonus partners (their codes in bonus_purchases.csv).
BONUS_PARTNERS: tuple[BonusPartner, ...] = (
    BonusPartner("nordic_air", "Nordic Air", 0.25, 2.5, 190.0),
    BonusPartner("lahi_vakuutus", "Lähivakuutus", 0.10, 1.0, 320.0),
)
