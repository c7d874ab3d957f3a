using Laps.Simulation.Workloads;

namespace Laps.Simulation.Tests.Workloads;

public class WorkloadSpecTests
{
    [Fact]
    public void A_profile_name_parses_case_insensitively_with_weight_one()
    {
        var spec = WorkloadSpec.Parse(" ShareGPT ");

        var item = Assert.Single(spec.Items);
        Assert.Equal(WorkloadItemKind.Profile, item.Kind);
        Assert.Equal("sharegpt", item.ProfileName);
        Assert.Equal(1.0, item.Weight);
        Assert.Equal("ShareGPT", spec.Text);
    }

    [Fact]
    public void A_comma_separated_list_takes_weights_after_the_last_colon()
    {
        var spec = WorkloadSpec.Parse("sharegpt:3, gsm8k ,cnn:0.5");

        Assert.Equal([3.0, 1.0, 0.5], spec.Items.Select(i => i.Weight));
        Assert.Equal(["sharegpt", "gsm8k", "cnn"], spec.Items.Select(i => i.ProfileName));
    }

    [Fact]
    public void A_path_may_contain_colons_and_only_a_trailing_number_is_a_weight()
    {
        using var dir = new TempDirectory("odd:dir");
        var path = dir.Write("t:1.jsonl", """{"id":"a","prompt_tokens":1,"acc_len_eagle":[1]}""");

        var weighted = WorkloadSpec.Parse(path + ":2.5");
        var plain = WorkloadSpec.Parse(path);

        Assert.Equal(WorkloadItemKind.TraceFile, weighted.Items[0].Kind);
        Assert.Equal(path, weighted.Items[0].Reference);
        Assert.Equal(2.5, weighted.Items[0].Weight);
        Assert.Equal(Path.GetFullPath(path), weighted.Items[0].FullPath);
        Assert.Equal(path, plain.Items[0].Reference);
        Assert.Equal(1.0, plain.Items[0].Weight);
        Assert.True(weighted.IsSingleTrace);
    }

    [Fact]
    public void An_unknown_name_that_is_no_file_lists_the_known_profiles()
    {
        var ex = Assert.Throws<WorkloadFormatException>(() => WorkloadSpec.Parse("gsm8k,nosuchthing:2"));

        Assert.Contains("'nosuchthing:2'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("known profiles: chat, code, reasoning, sharegpt", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sharegpt:0", "weight must be a positive number")]
    [InlineData("sharegpt:-1", "weight must be a positive number")]
    [InlineData("sharegpt:NaN", "weight must be a positive number")]
    [InlineData(":2", "needs a profile or file")]
    [InlineData("sharegpt,,cnn", "empty item")]
    [InlineData("   ", "workload spec is empty")]
    public void Bad_items_are_named_in_the_error(string spec, string expected)
    {
        var ex = Assert.Throws<WorkloadFormatException>(() => WorkloadSpec.Parse(spec));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
