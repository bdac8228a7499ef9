"""The simulated store's catalogue: categories, product families, and the planted products.

Plain data, no randomness: the generator draws product names, prices and popularity from it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Subcategory:
    code: str
    name: str
    nouns: tuple[str, ...]
    price: tuple[float, float]  # (low, high), drawn log-uniformly


@dataclasses.dataclass(frozen=True)
class TopCategory:
    code: str
    name: str
    subcategories: tuple[Subcategory, ...]


@dataclasses.dataclass(frozen=True)
class PlantedProduct:
    """A named product the ground truth refers to (its SKU is fixed across seeds)."""

    sku: str
    name: str
    subcategory: str
    price: float
    role: str  # chain antecedent/consequent, yearly gift, refill, …
    rank: int  # popularity rank inside its top category (0 = best seller)
    month: int | None = None  # yearly gifts: the month people buy it
    interval_days: int | None = None  # refills: the usual days between purchases


def _sub(code: str, name: str, nouns: str, low: float, high: float) -> Subcategory:
    return Subcategory(code, name, tuple(n.strip() for n in nouns.split(",")), (low, high))


CATALOGUE: tuple[TopCategory, ...] = (
    TopCategory(
        "BABY",
        "Baby",
        (
            _sub(
                "BABY-FEED",
                "Feeding",
                "Sippy Cup, Bib Set, Bottle Warmer, Silicone Spoon Set",
                6,
                60,
            ),
            _sub(
                "BABY-FOOD",
                "Baby Food",
                "Puree Pouch, Rice Cereal, Teething Biscuits, Formula",
                3,
                40,
            ),
            _sub("BABY-CLOTH", "Baby Clothing", "Sleepsuit, Knit Hat, Sock Set, Romper", 8, 45),
            _sub("BABY-TOY", "Baby Toys", "Activity Gym, Stacking Cups, Teether, Soft Book", 6, 70),
            _sub(
                "BABY-NURS",
                "Nursery",
                "Baby Monitor, Crib Sheet, Swaddle Blanket, Changing Mat",
                12,
                180,
            ),
        ),
    ),
    TopCategory(
        "ELEC",
        "Electronics",
        (
            _sub(
                "ELEC-COMP",
                "Computers",
                "Monitor, Keyboard, Wireless Mouse, USB-C Hub, SSD",
                15,
                450,
            ),
            _sub(
                "ELEC-CAM",
                "Cameras",
                "Action Camera, Tripod, Camera Bag, Memory Card, Lens Filter",
                12,
                420,
            ),
            _sub(
                "ELEC-AV",
                "Audio & Video",
                "Soundbar, Headphones, Bluetooth Speaker, Streaming Stick",
                20,
                380,
            ),
            _sub(
                "ELEC-PHONE",
                "Phones & Accessories",
                "Phone Case, Charger, Power Bank, Smartwatch",
                8,
                260,
            ),
        ),
    ),
    TopCategory(
        "HOME",
        "Home",
        (
            _sub(
                "HOME-KIT",
                "Kitchen",
                "Chef Knife, Frying Pan, Rice Cooker, Kettle, Blender",
                12,
                160,
            ),
            _sub(
                "HOME-BED", "Bedding", "Duvet Cover, Pillow, Bath Towel Set, Throw Blanket", 15, 140
            ),
            _sub("HOME-DEC", "Decor", "Scented Candle, Photo Frame, Vase, Table Lamp", 8, 120),
            _sub("HOME-STO", "Storage", "Storage Box, Hanger Set, Shelf Organiser", 6, 60),
        ),
    ),
    TopCategory(
        "FASH",
        "Fashion",
        (
            _sub("FASH-WOM", "Women", "Dress, Blouse, Cardigan, Skirt", 18, 150),
            _sub("FASH-MEN", "Men", "Shirt, Chinos, Hoodie, Polo", 18, 130),
            _sub("FASH-SHOE", "Shoes", "Sneakers, Boots, Sandals, Loafers", 30, 180),
            _sub("FASH-ACC", "Accessories", "Scarf, Leather Belt, Tote Bag, Sunglasses", 10, 120),
        ),
    ),
    TopCategory(
        "BEAU",
        "Beauty",
        (
            _sub(
                "BEAU-SKIN", "Skincare", "Face Serum, Moisturiser, Sunscreen, Sheet Mask Set", 8, 90
            ),
            _sub("BEAU-MAKE", "Makeup", "Lipstick, Foundation, Mascara, Eyeshadow Palette", 8, 60),
            _sub("BEAU-FRAG", "Fragrance", "Eau de Parfum, Body Mist", 20, 140),
            _sub("BEAU-HAIR", "Hair", "Shampoo, Conditioner, Hair Dryer", 6, 120),
        ),
    ),
    TopCategory(
        "GROC",
        "Grocery & Refills",
        (
            _sub("GROC-TEA", "Coffee & Tea", "Coffee Beans, Green Tea, Oolong Tea, Matcha", 6, 45),
            _sub(
                "GROC-SNACK",
                "Snacks",
                "Dark Chocolate, Mixed Nuts, Dried Mango, Rice Crackers",
                3,
                25,
            ),
            _sub(
                "GROC-REFILL",
                "Refills",
                "Hand Soap Refill, Dish Soap Refill, Room Spray Refill",
                4,
                30,
            ),
        ),
    ),
    TopCategory(
        "GIFT",
        "Gifts",
        (
            _sub("GIFT-FLOW", "Flowers", "Bouquet, Potted Orchid, Dried Flower Jar", 20, 90),
            _sub("GIFT-BOX", "Gift Boxes", "Gift Box, Hamper, Tea Gift Set", 20, 120),
            _sub("GIFT-PERS", "Personalised", "Engraved Pen, Custom Mug, Name Necklace", 12, 80),
        ),
    ),
    TopCategory(
        "SPORT",
        "Sports & Outdoors",
        (
            _sub("SPORT-FIT", "Fitness", "Yoga Mat, Dumbbell Set, Resistance Bands", 10, 150),
            _sub("SPORT-OUT", "Outdoor", "Tent, Hiking Backpack, Water Bottle", 10, 260),
            _sub("SPORT-CYC", "Cycling", "Bike Light, Cycling Helmet, Bike Lock", 12, 110),
        ),
    ),
    TopCategory(
        "TOYS",
        "Toys",
        (
            _sub("TOYS-BUILD", "Building Toys", "Building Blocks Set, Marble Run", 15, 120),
            _sub("TOYS-GAME", "Puzzles & Games", "Jigsaw Puzzle, Board Game, Card Game", 8, 60),
            _sub("TOYS-FIG", "Dolls & Figures", "Doll, Action Figure, Plush Panda", 8, 50),
        ),
    ),
    TopCategory(
        "BOOK",
        "Books",
        (
            _sub("BOOK-FIC", "Fiction", "Novel, Short Stories, Poetry Collection", 8, 30),
            _sub("BOOK-KIDS", "Children's Books", "Picture Book, Bedtime Stories", 6, 25),
            _sub("BOOK-COOK", "Cookbooks", "Cookbook", 15, 45),
            _sub("BOOK-TECH", "Technology", "Programming Guide, Photography Handbook", 20, 60),
        ),
    ),
)

# Planted products: the ground truth (chains, periodic purchases) names these SKUs.
BABY_BOTTLE = "BABY-BOTTLE-260"
BABY_FOOD = "BABY-FOOD-POUCH12"
BABY_CLOTHES = "BABY-BODYSUIT-3PK"
BABY_TOY = "BABY-RATTLE-PLUSH"
LAPTOP = "ELEC-LAPTOP-14"
CAMERA = "ELEC-CAMERA-Z50"
HOME_THEATRE = "ELEC-HOMETHEATRE-51"

PLANTED_PRODUCTS: tuple[PlantedProduct, ...] = (
    PlantedProduct(BABY_BOTTLE, "Anti-Colic Baby Bottle 260 ml", "BABY-FEED", 14.90, "chain", 1),
    PlantedProduct(
        BABY_FOOD, "Organic Baby Food Pouches (12-pack)", "BABY-FOOD", 21.50, "chain", 3
    ),
    PlantedProduct(BABY_CLOTHES, "Cotton Baby Bodysuits (3-pack)", "BABY-CLOTH", 24.00, "chain", 4),
    PlantedProduct(BABY_TOY, "Soft Plush Baby Rattle Toy", "BABY-TOY", 12.50, "chain", 5),
    PlantedProduct(LAPTOP, "AeroBook 14 Laptop", "ELEC-COMP", 899.00, "chain", 6),
    PlantedProduct(CAMERA, "Mirrorless Camera Z50 Kit", "ELEC-CAM", 749.00, "chain", 12),
    PlantedProduct(HOME_THEATRE, "5.1 Home Theatre System", "ELEC-AV", 549.00, "chain", 14),
    # Yearly gifts: bought in the same month every year.
    PlantedProduct(
        "GIFT-MOTHERSDAY", "Mother's Day Flower Bouquet", "GIFT-FLOW", 49.00, "yearly", 20, month=5
    ),
    PlantedProduct(
        "GIFT-VALENTINE", "Valentine's Red Rose Box", "GIFT-FLOW", 69.00, "yearly", 22, month=2
    ),
    PlantedProduct(
        "GIFT-MOONCAKE", "Mid-Autumn Mooncake Gift Box", "GIFT-BOX", 38.00, "yearly", 24, month=9
    ),
    PlantedProduct(
        "GIFT-HAMPER-XMAS", "Christmas Gourmet Hamper", "GIFT-BOX", 89.00, "yearly", 26, month=12
    ),
    PlantedProduct(
        "GIFT-BIRTHDAY-BOX", "Birthday Surprise Gift Box", "GIFT-BOX", 45.00, "yearly", 28
    ),
    # Refills: bought at a steady interval.
    PlantedProduct(
        "REFILL-WATERFILTER",
        "Water Filter Cartridge (30-day)",
        "GROC-REFILL",
        17.90,
        "interval",
        30,
        interval_days=30,
    ),
    PlantedProduct(
        "REFILL-COFFEECAPS",
        "Coffee Capsules (50-pack)",
        "GROC-TEA",
        22.00,
        "interval",
        32,
        interval_days=21,
    ),
    PlantedProduct(
        "REFILL-DETERGENT",
        "Laundry Detergent Refill 2 L",
        "GROC-REFILL",
        12.40,
        "interval",
        34,
        interval_days=45,
    ),
    PlantedProduct(
        "REFILL-LENSES",
        "Monthly Contact Lenses (6-pack)",
        "BEAU-SKIN",
        39.00,
        "interval",
        36,
        interval_days=60,
    ),
)

BABY_CHAIN_CONSEQUENTS = (BABY_FOOD, BABY_CLOTHES, BABY_TOY)
LAPTOP_CHAIN_CONSEQUENTS = (CAMERA, HOME_THEATRE)

BRANDS = (
    "Lumio", "Bambu", "Northfield", "Kaili", "Mingyue", "Tidewell", "Orchard & Co", "Yunfeng",
    "Brightnest", "Haiyan", "Copperleaf", "Sora", "Everpine", "Jinhua", "Meadowlark", "Qingshan",
    "Stonebridge", "Lotus Lane", "Pinecrest", "Xinyi", "Bluefin", "Maple & Moss", "Anping",
    "Redwood", "Silverline", "Fuxing", "Kestrel", "Willowby", "Zhenmei", "Harbourlight",
)  # fmt: skip
VARIANTS = (
    "", "Classic", "Pro", "Lite", "Plus", "Mini", "Max", "Eco", "Deluxe", "Essential", "Signature",
    "Travel", "Family Size", "Limited Edition", "2-Pack", "Organic", "Bamboo", "Ceramic", "Linen",
)  # fmt: skip
COLOURS = ("", "", "", "Black", "White", "Sage", "Navy", "Rose", "Sand", "Graphite", "Coral")

# Personas: who a customer is decides which top categories they buy from (weights per top
# category, in CATALOGUE order) and what they say they are interested in.
PERSONAS: tuple[tuple[str, float, tuple[float, ...], tuple[str, ...]], ...] = (
    # name, share, BABY ELEC HOME FASH BEAU GROC GIFT SPORT TOYS BOOK, interests
    ("parent", 0.14, (10, 1, 3, 1.5, 1, 3, 1, 0.5, 4, 1.5), ("parenting", "cooking", "home decor")),
    (
        "techie",
        0.12,
        (0.2, 10, 1.5, 1, 0.3, 1.5, 0.8, 2, 0.5, 2.5),
        ("technology", "gaming", "photography"),
    ),
    (
        "homemaker",
        0.14,
        (0.5, 1.5, 10, 1.5, 2, 5, 1.5, 0.5, 0.5, 1.5),
        ("home decor", "cooking", "gardening"),
    ),
    (
        "fashionista",
        0.14,
        (0.3, 1, 1.5, 10, 6, 1, 1.5, 1, 0.2, 0.5),
        ("fashion", "beauty", "travel"),
    ),
    ("foodie", 0.12, (0.3, 0.5, 4, 0.5, 1, 10, 2, 0.5, 0.2, 2), ("cooking", "coffee", "tea")),
    ("outdoorsy", 0.10, (0.3, 2, 1, 2.5, 0.5, 2, 0.5, 10, 0.5, 1), ("fitness", "hiking", "travel")),
    ("bookworm", 0.08, (0.3, 1, 1.5, 1, 1, 2, 3, 0.5, 1, 10), ("reading", "writing", "tea")),
    ("generalist", 0.16, (1, 2, 2, 2, 1.5, 2, 1, 1, 1, 1), ("shopping", "travel", "music")),
)
INTERESTS = (
    "parenting", "cooking", "home decor", "technology", "gaming", "photography", "gardening",
    "fashion", "beauty", "travel", "coffee", "tea", "fitness", "hiking", "reading", "writing",
    "shopping", "music", "film", "pets",
)  # fmt: skip
