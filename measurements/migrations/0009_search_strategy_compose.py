# The search's default strategy is compose: benchmarks/selector_strategies.py (issue 16).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("measurements", "0008_searches"),
    ]

    operations = [
        migrations.AlterField(
            model_name="search",
            name="strategy",
            field=models.CharField(
                default="compose", help_text="compose (the default) or tpe.", max_length=16
            ),
        ),
    ]
