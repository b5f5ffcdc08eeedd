"""What members read, in Finnish and Swedish: pages, confirmation and export e-mails.

One catalogue for the web pages (:mod:`dispatch.web.member_pages` makes ``t`` of it),
the e-mails (:mod:`.mail`) and the postal export letter (:mod:`.letter`, whose words
are in :mod:`.letter_texts`), so a term reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dispatch.db.types import Language
from dispatch.members import letter_texts

LANGUAGES = ("fi", "sv")

_FI: dict[str, str] = {
    "language.name": "Suomeksi",
    "purpose.own_marketing": "Osuuskaupan omat tarjoukset",
    "purpose.partner_marketing": "Yhteistyökumppanien tarjoukset",
    "purpose.market_research": "Markkinatutkimukset",
    "purpose.profiling": "Ostoihin perustuva kohdentaminen",
    "purpose.direct_marketing": "kaikki suoramarkkinointi",
    "channel.post": "Posti",
    "channel.email": "Sähköposti",
    "channel.sms": "Tekstiviesti",
    "channel.phone": "Puhelin",
    "channel.any": "kaikki kanavat",
    # one-click unsubscribe
    "unsubscribe.title": "Sähköpostien peruutus",
    "unsubscribe.ask": "Haluatko lopettaa nämä sähköpostit? Et saa sen jälkeen sähköpostilla "
    "tarjouksia tähän tarkoitukseen: {purpose}.",
    "unsubscribe.button": "Peru sähköpostit",
    "unsubscribe.done": "Sähköpostit on peruttu. Et saa enää sähköpostilla tarjouksia tähän "
    "tarkoitukseen: {purpose}. Muutos tuli voimaan heti, myös jo lähtöä odottaville viesteille.",
    "unsubscribe.centre": "Muuta muita markkinointivalintojasi",
    # the letter code
    "code.title": "Markkinointivalintasi",
    "code.intro": "Anna koodi, joka on kirjeemme alareunan tietosuojailmoituksessa.",
    "code.label": "Koodi (12 merkkiä)",
    "code.button": "Jatka",
    "code.unknown": "Koodia ei löytynyt. Tarkista koodi ja yritä uudelleen.",
    # the centre
    "centre.title": "Markkinointivalintasi",
    "centre.intro": "Valitse, mitä haluat saada ja miten. Muutokset tulevat voimaan heti, "
    "myös jo lähtöä odottavalle postille ja sähköpostille.",
    "centre.choices": "Mitä saat",
    "centre.save": "Tallenna valinnat",
    "centre.locked": "kielletty",
    "centre.widen_note": "Kirjeen tai sähköpostin linkillä voi vain rajoittaa markkinointia. "
    "Kun valitset jotain lisää, lähetämme vahvistuksen rekisteröityyn "
    "sähköpostiosoitteeseesi, ja muutos tulee voimaan vasta, kun vahvistat sen. "
    "Tekstiviestimarkkinoinnin voi tilata vain asiakaspalvelusta.",
    "centre.saved": "Valintasi on tallennettu.",
    "centre.nothing": "Et muuttanut mitään.",
    "centre.confirm_sent": "Lähetimme vahvistuksen sähköpostiisi. Valinta tulee voimaan, kun "
    "vahvistat sen viestin linkistä 48 tunnin kuluessa.",
    "centre.confirm_no_email": "Meillä ei ole sähköpostiosoitettasi, joten emme voi vahvistaa "
    "laajennusta verkossa. Ota yhteyttä asiakaspalveluun.",
    "centre.confirm_limit": "Olet pyytänyt jo monta vahvistusta. Yritä myöhemmin uudelleen.",
    "centre.refused": "Tätä ei voi valita tässä: {items}. Ota yhteyttä asiakaspalveluun.",
    "centre.objection.title": "Kiellä kaikki suoramarkkinointi",
    "centre.objection.text": "Kielto koskee kaikkia kanavia ja tulee voimaan heti, myös jo "
    "lähtöä odottavalle postille. Sen voi perua vain asiakaspalvelussa.",
    "centre.objection.button": "Kiellä kaikki suoramarkkinointi",
    "centre.objection.active": "Olet kieltänyt kaiken suoramarkkinoinnin.",
    "centre.objection.done": "Kielto on kirjattu ja voimassa heti.",
    "centre.data.title": "Omat tietosi",
    "centre.data.text": "Lähetämme kaikki sinusta tallennetut tiedot, ja sen, miksi sait "
    "kunkin kampanjan, rekisteröityyn sähköpostiosoitteeseesi. Tietoja ei näytetä tällä "
    "sivulla.",
    "centre.data.button": "Lähetä tietoni sähköpostiini",
    "centre.data.post_text": "Meillä ei ole sähköpostiosoitettasi. Asiakaspalvelumme "
    "postittaa kaikki sinusta tallennetut tiedot, ja sen, miksi sait kunkin kampanjan, "
    "rekisteröityyn postiosoitteeseesi kuukauden kuluessa. Tietoja ei näytetä tällä sivulla.",
    "centre.data.post_button": "Tilaa tietoni postitse",
    "centre.data.posted": "Pyyntösi on kirjattu. Asiakaspalvelumme postittaa tietosi "
    "rekisteröityyn postiosoitteeseesi viimeistään {due}.",
    "centre.data.undeliverable": "Sähköpostiosoitteeseesi ei voitu lähettää. Pyyntösi on "
    "kirjattu: asiakaspalvelumme postittaa tietosi rekisteröityyn postiosoitteeseesi "
    "viimeistään {due}.",
    "centre.data.post_open": "Pyyntösi on jo käsittelyssä. Asiakaspalvelumme postittaa "
    "tietosi rekisteröityyn postiosoitteeseesi viimeistään {due}.",
    "centre.data.post_limit": "Olet jo pyytänyt tietosi tänään. Voit pyytää ne uudelleen huomenna.",
    "centre.data.sent": "Tietosi on lähetetty rekisteröityyn sähköpostiosoitteeseesi.",
    "centre.data.limit": "Tietosi on jo lähetetty tänään. Voit pyytää ne uudelleen huomenna.",
    "centre.data.failed": "Lähetys ei onnistunut juuri nyt. Yritä hetken kuluttua uudelleen.",
    "centre.erase.title": "Tietojesi poistaminen",
    "centre.erase.text": "Voit pyytää tietojesi poistamista. Asiakaspalvelu varmistaa "
    "pyynnön kanssasi ennen poistamista. Poiston jälkeen et saa enää markkinointia.",
    "centre.erase.button": "Pyydä tietojeni poistamista",
    "centre.erase.sent": "Pyyntösi on välitetty asiakaspalveluun.",
    "centre.erase.open": "Poistopyyntösi on jo käsittelyssä.",
    "centre.leave": "Lopeta",
    "centre.left": "Olet poistunut markkinointivalinnoista.",
    # double opt-in
    "confirm.title": "Vahvista markkinointivalinta",
    "confirm.intro": "Vahvista, että haluat saada:",
    "confirm.button": "Vahvista",
    "confirm.done": "Kiitos, valintasi on vahvistettu ja tuli voimaan.",
    "confirm.mail.subject": "Vahvista markkinointivalintasi",
    "confirm.mail.body": "Hei,\n\npyysit markkinointivalinnoissasi seuraavia muutoksia:\n\n"
    "{items}\n\nVahvista ne 48 tunnin kuluessa tästä linkistä:\n{url}\n\nJos et pyytänyt "
    "tätä, voit jättää viestin huomiotta: mikään ei muutu.\n\n{site}",
    # errors
    "error.404": "Linkkiä tai koodia ei löytynyt. Tarkista, että kopioit sen kokonaan.",
    "error.410": "Linkki ei ole enää voimassa. Käytä uusimman kirjeemme tai "
    "sähköpostimme linkkiä tai koodia.",
    "error.401": "Istuntosi on päättynyt. Avaa markkinointivalinnat uudelleen kirjeen tai "
    "sähköpostin linkistä tai koodilla.",
    "error.429": "Liian monta yritystä. Odota hetki ja yritä uudelleen.",
    "error.403": "Lomake vanheni. Lataa sivu uudelleen ja yritä uudelleen.",
    "error.other": "Jokin meni vikaan. Yritä myöhemmin uudelleen.",
    "error.title": "Linkki ei toimi",
    # the export
    "export.subject": "Tietosi kanta-asiakasrekisterissä",
    "export.intro": "Pyysit tietosi markkinointivalinnoistasi. Tässä on, miksi sait "
    "kampanjamme, ja ostosi tuoteryhmittäin. Kaikki tallennetut tiedot ovat liitteenä "
    "(JSON).",
    "export.why": "Miksi sait kampanjamme",
    "export.none": "Emme ole valinneet sinua yhteenkään kampanjaan.",
    "export.purchases": "Ostosi tuoteryhmittäin ja kuukausittain (euroa)",
    "export.no_purchases": "Meillä ei ole ostotietoja sinusta.",
    "export.group": "Tuoteryhmä",
    "export.total": "Yhteensä",
    "export.sent": "lähetetty",
    "export.not_sent": "ei lähetetty: {reason}",
    "export.pending": "käsittelyssä",
    "export.attachment": "omat-tiedot.json",
}

_SV: dict[str, str] = {
    "language.name": "På svenska",
    "purpose.own_marketing": "Andelshandelns egna erbjudanden",
    "purpose.partner_marketing": "Samarbetspartners erbjudanden",
    "purpose.market_research": "Marknadsundersökningar",
    "purpose.profiling": "Inriktning utifrån dina köp",
    "purpose.direct_marketing": "all direktmarknadsföring",
    "channel.post": "Post",
    "channel.email": "E-post",
    "channel.sms": "Textmeddelande",
    "channel.phone": "Telefon",
    "channel.any": "alla kanaler",
    "unsubscribe.title": "Avsluta e-post",
    "unsubscribe.ask": "Vill du sluta få dessa e-postmeddelanden? Du får då inga erbjudanden "
    "per e-post för detta ändamål: {purpose}.",
    "unsubscribe.button": "Avsluta e-posten",
    "unsubscribe.done": "E-posten har avslutats. Du får inte längre erbjudanden per e-post för "
    "detta ändamål: {purpose}. Ändringen gäller genast, också för meddelanden som väntar på "
    "att skickas.",
    "unsubscribe.centre": "Ändra dina övriga marknadsföringsval",
    "code.title": "Dina marknadsföringsval",
    "code.intro": "Ange koden som finns i dataskyddsmeddelandet längst ner i vårt brev.",
    "code.label": "Kod (12 tecken)",
    "code.button": "Fortsätt",
    "code.unknown": "Koden hittades inte. Kontrollera koden och försök igen.",
    "centre.title": "Dina marknadsföringsval",
    "centre.intro": "Välj vad du vill få och hur. Ändringarna gäller genast, också för post "
    "och e-post som väntar på att skickas.",
    "centre.choices": "Vad du får",
    "centre.save": "Spara valen",
    "centre.locked": "förbjudet",
    "centre.widen_note": "Med länken i ett brev eller e-postmeddelande kan man bara begränsa "
    "marknadsföringen. När du väljer något mer skickar vi en bekräftelse till din registrerade "
    "e-postadress, och ändringen gäller först när du bekräftar den. Marknadsföring per "
    "textmeddelande kan beställas endast via kundtjänsten.",
    "centre.saved": "Dina val har sparats.",
    "centre.nothing": "Du ändrade ingenting.",
    "centre.confirm_sent": "Vi skickade en bekräftelse till din e-post. Valet gäller när du "
    "bekräftar det med länken i meddelandet inom 48 timmar.",
    "centre.confirm_no_email": "Vi har inte din e-postadress, så vi kan inte bekräfta ändringen "
    "på webben. Kontakta kundtjänsten.",
    "centre.confirm_limit": "Du har redan bett om många bekräftelser. Försök igen senare.",
    "centre.refused": "Detta kan inte väljas här: {items}. Kontakta kundtjänsten.",
    "centre.objection.title": "Förbjud all direktmarknadsföring",
    "centre.objection.text": "Förbudet gäller alla kanaler och träder i kraft genast, också "
    "för post som väntar på att skickas. Det kan hävas endast via kundtjänsten.",
    "centre.objection.button": "Förbjud all direktmarknadsföring",
    "centre.objection.active": "Du har förbjudit all direktmarknadsföring.",
    "centre.objection.done": "Förbudet är registrerat och gäller genast.",
    "centre.data.title": "Dina uppgifter",
    "centre.data.text": "Vi skickar alla uppgifter vi har sparat om dig, och varför du fick "
    "varje kampanj, till din registrerade e-postadress. Uppgifterna visas inte på den här "
    "sidan.",
    "centre.data.button": "Skicka mina uppgifter till min e-post",
    "centre.data.post_text": "Vi har inte din e-postadress. Vår kundtjänst postar alla "
    "uppgifter vi har sparat om dig, och varför du fick varje kampanj, till din registrerade "
    "postadress inom en månad. Uppgifterna visas inte på den här sidan.",
    "centre.data.post_button": "Beställ mina uppgifter per post",
    "centre.data.posted": "Din begäran är registrerad. Vår kundtjänst postar dina uppgifter "
    "till din registrerade postadress senast {due}.",
    "centre.data.undeliverable": "Det gick inte att skicka till din e-postadress. Din begäran "
    "är registrerad: vår kundtjänst postar dina uppgifter till din registrerade postadress "
    "senast {due}.",
    "centre.data.post_open": "Din begäran behandlas redan. Vår kundtjänst postar dina "
    "uppgifter till din registrerade postadress senast {due}.",
    "centre.data.post_limit": "Du har redan bett om dina uppgifter i dag. Du kan be om dem "
    "igen i morgon.",
    "centre.data.sent": "Dina uppgifter har skickats till din registrerade e-postadress.",
    "centre.data.limit": "Dina uppgifter har redan skickats i dag. Du kan be om dem igen i morgon.",
    "centre.data.failed": "Det gick inte att skicka just nu. Försök igen om en stund.",
    "centre.erase.title": "Radera dina uppgifter",
    "centre.erase.text": "Du kan be att dina uppgifter raderas. Kundtjänsten bekräftar "
    "begäran med dig innan de raderas. Efter raderingen får du ingen marknadsföring.",
    "centre.erase.button": "Begär att mina uppgifter raderas",
    "centre.erase.sent": "Din begäran har skickats till kundtjänsten.",
    "centre.erase.open": "Din begäran om radering behandlas redan.",
    "centre.leave": "Avsluta",
    "centre.left": "Du har lämnat dina marknadsföringsval.",
    "confirm.title": "Bekräfta ditt marknadsföringsval",
    "confirm.intro": "Bekräfta att du vill få:",
    "confirm.button": "Bekräfta",
    "confirm.done": "Tack, ditt val är bekräftat och gäller nu.",
    "confirm.mail.subject": "Bekräfta dina marknadsföringsval",
    "confirm.mail.body": "Hej,\n\ndu bad om följande ändringar i dina marknadsföringsval:\n\n"
    "{items}\n\nBekräfta dem inom 48 timmar med den här länken:\n{url}\n\nOm du inte bad om "
    "detta kan du strunta i meddelandet: ingenting ändras.\n\n{site}",
    "error.404": "Länken eller koden hittades inte. Kontrollera att du kopierade hela.",
    "error.410": "Länken gäller inte längre. Använd länken eller koden i vårt senaste brev "
    "eller e-postmeddelande.",
    "error.401": "Din session har gått ut. Öppna marknadsföringsvalen på nytt med länken eller "
    "koden i ett brev eller e-postmeddelande.",
    "error.429": "För många försök. Vänta en stund och försök igen.",
    "error.403": "Formuläret har gått ut. Ladda om sidan och försök igen.",
    "error.other": "Något gick fel. Försök igen senare.",
    "error.title": "Länken fungerar inte",
    "export.subject": "Dina uppgifter i stamkundsregistret",
    "export.intro": "Du bad om dina uppgifter i dina marknadsföringsval. Här är varför du "
    "fick våra kampanjer och dina köp per produktgrupp. Alla sparade uppgifter finns i "
    "bilagan (JSON).",
    "export.why": "Varför du fick våra kampanjer",
    "export.none": "Vi har inte valt dig till någon kampanj.",
    "export.purchases": "Dina köp per produktgrupp och månad (euro)",
    "export.no_purchases": "Vi har inga köpuppgifter om dig.",
    "export.group": "Produktgrupp",
    "export.total": "Totalt",
    "export.sent": "skickad",
    "export.not_sent": "inte skickad: {reason}",
    "export.pending": "behandlas",
    "export.attachment": "mina-uppgifter.json",
}

CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "fi": MappingProxyType(_FI | letter_texts.FI),
        "sv": MappingProxyType(_SV | letter_texts.SV),
    }
)


def language_or_default(value: str | None, default: str = "fi") -> str:
    """``value`` if it is a language members read, else ``default``."""
    return value if value in LANGUAGES else Language(default).value


def text(language: str, key: str, **values: object) -> str:
    """The text ``key`` in ``language`` with ``values`` filled in."""
    template = CATALOGUE[language_or_default(language)][key]
    return template.format(**values) if values else template


def word(language: str, prefix: str, code: str | None) -> str:
    """The word for ``code`` under ``prefix`` ("decision", "granted"), else the code as is:
    a value added later reads as its code rather than failing a member's letter."""
    if code is None:
        return ""
    return CATALOGUE[language_or_default(language)].get(f"{prefix}.{code}", code)


def format_date(value: str | None) -> str:
    """An ISO date or time from the export document as people write it here (7.12.2026)."""
    if not value:
        return ""
    year, month, day = value[:10].split("-")
    return f"{int(day)}.{int(month)}.{year}"
